#!/usr/bin/python3
"""A third-party Modbus TCP server for modbus_pymodbus.sh: Debian's pymodbus.

Serves unit 1 with the decoding-test register map (holding registers
0x100 + 4 * (4 * TYPE + ORDER), one known value of each type in each word
order, encoded here with Python's struct, independently of foyer's C code)
and unit 2 with an SDM120-like block of input registers (float32 ABCD).  Listens on
127.0.0.1 on a free port and writes it to PORT_FILE once serving.

Usage: modbus_pymodbus_server.py PORT_FILE
       modbus_pymodbus_server.py --check   (exit 0 if everything it needs imports)
"""
import asyncio
import logging
import os
import struct
import sys

try:
    # pymodbus's server module imports serial and serial_asyncio even for
    # TCP; Debian's python3-pymodbus only recommends them.
    from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                    ModbusSlaveContext)
    from pymodbus.server.async_io import ModbusTcpServer
except ImportError as e:
    sys.exit("modbus_pymodbus_server.py: %s: install python3-pymodbus, python3-serial and "
             "python3-serial-asyncio (scripts/deps.sh)" % e)

VALUES = [("H", 12345), ("h", -12345), ("I", 3000000000), ("i", -2000000000),
          ("Q", 1234567890123), ("q", -1234567890123), ("f", 1234.5),
          ("d", -98765.4321)]
ORDERS = ["ABCD", "CDAB", "BADC", "DCBA"]


def ordered_words(fmt, value, order):
    raw = struct.pack(">" + fmt, value)  # big-endian: A first
    words = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    if order in ("CDAB", "DCBA"):
        words = words[::-1]
    return [struct.unpack(">H", w)[0] for w in words]


def holding_map():
    regs = [0] * 0x200
    for t, (fmt, value) in enumerate(VALUES):
        for o, order in enumerate(ORDERS):
            addr = 0x100 + 4 * (4 * t + o)
            for i, w in enumerate(ordered_words(fmt, value, order)):
                regs[addr + i] = w
    return regs


def input_map():
    regs = [0] * 0x200
    for addr, value in ((0x00, 231.5), (0x06, 2.25), (0x0C, 480.0), (0x48, 4321.25),
                        (0x4A, 12.5)):
        regs[addr:addr + 2] = ordered_words("f", value, "ABCD")
    return regs


async def main(port_file):
    types = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, holding_map()), zero_mode=True)
    sdm = ModbusSlaveContext(ir=ModbusSequentialDataBlock(0, input_map()), zero_mode=True)
    context = ModbusServerContext(slaves={1: types, 2: sdm}, single=False)
    server = ModbusTcpServer(context, address=("127.0.0.1", 0), defer_start=False)
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(port_file + ".tmp", port_file)
    await task


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0)
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(sys.argv[1]))
