"""The HTTP and websocket API: routers per resource, schemas, the error map, access control."""
