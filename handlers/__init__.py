"""Chat commands, independent of any platform: `router.dispatch(app, Incoming) -> Result`."""
