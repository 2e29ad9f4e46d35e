"""WeCom (企业微信) edge: `adapter` (callback in → Event), `client` (HTTP API out),
`fake` (a fake WeCom for tests and the demo). Card rendering lives in `cards/wecom.py`."""
