pytest_plugins = ["tests.fixtures.model", "tests.fixtures.app"]
