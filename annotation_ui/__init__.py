"""The Django app that hosts the browser annotation tool: pages, websocket consumers, built bundle."""
