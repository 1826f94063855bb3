"""Deterministic equipment simulators serving real Modbus/OPC UA traffic on loopback."""
