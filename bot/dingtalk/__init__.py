"""DingTalk platform edge: `adapter` (inbound HTTP callbacks → Event), `stream` (the same over Stream
mode), `client` (outbound API calls), `fake` (a local fake DingTalk for tests and the demo)."""
