"""Modbus TCP collection: read planning, value codec, shared connections, device pollers."""
