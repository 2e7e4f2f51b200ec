"""HTTP: callbacks (WeCom app, WeCom AI bot, bridge), health, and the admin API."""
