"""Plain service functions: what users and admins can do, with no knowledge of any chat platform.
The chat handlers, the CLI, the console and Zalo all call these."""
