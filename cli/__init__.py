"""The `formwright` command line (cli.main:app), one module per noun; cli.client is the HTTP
client the client commands use."""
