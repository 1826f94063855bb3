"""The collector's register-response classes decode exactly like stock pymodbus, and refuse the same frames."""

from __future__ import annotations

import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from collectors.modbus.responses import HoldingRegistersResponse, InputRegistersResponse, install
from collectors.sim.modbus_server import ModbusSimServer, RegisterBank
from collectors.testing import aio_test, free_port


@pytest.mark.parametrize("cls", [HoldingRegistersResponse, InputRegistersResponse])
def test_decode_keeps_the_wire_bytes_and_every_register(cls):
    regs = [0, 1, 0x7FFF, 0x8000, 0xFFFF] + list(range(120))
    frame = bytes([2 * len(regs)]) + struct.pack(f">{len(regs)}H", *regs)
    rr = cls()
    rr.decode(frame)
    assert rr.registers == regs
    assert rr.payload == frame[1:]
    assert rr.encode() == frame
    assert not rr.isError()
    assert str(rr).endswith("registers=125)")        # never all 125 values in a log string


@pytest.mark.parametrize("frame", [b"", bytes([4, 0, 1, 0]), bytes([3, 0, 1, 0, 2]), bytes([200, 0, 1])],
                         ids=["empty", "count past the frame", "odd count", "count lies"])
def test_frames_the_stock_decoder_refuses_are_refused(frame):
    with pytest.raises(ModbusIOException):
        HoldingRegistersResponse().decode(frame)


@aio_test
async def test_an_installed_client_reads_the_simulator_and_other_clients_keep_the_stock_classes():
    port = free_port()
    bank = RegisterBank(256)
    bank.hr[:10] = range(100, 110)
    bank.ir[:4] = (7, 8, 9, 10)
    server = ModbusSimServer("127.0.0.1", port, {1: bank})
    await server.start()
    ours = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0, reconnect_delay=0)
    stock = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0, reconnect_delay=0)
    install(ours)
    try:
        assert await ours.connect() and await stock.connect()
        hr = await ours.read_holding_registers(0, count=10, device_id=1)
        ir = await ours.read_input_registers(0, count=4, device_id=1)
        plain = await stock.read_holding_registers(0, count=10, device_id=1)
        assert isinstance(hr, HoldingRegistersResponse) and isinstance(ir, InputRegistersResponse)
        assert hr.registers == plain.registers == list(range(100, 110))
        assert ir.registers == [7, 8, 9, 10] and ir.payload == struct.pack(">4H", 7, 8, 9, 10)
        assert not isinstance(plain, HoldingRegistersResponse)
        bad = await ours.read_holding_registers(1000, count=10, device_id=1)
        assert bad.isError() and bad.exception_code == 2     # exceptions still come as the stock class
    finally:
        ours.close()
        stock.close()
        await server.stop()
