"""spms collectors package: Modbus TCP and OPC UA collection, equipment simulators.

pymodbus and asyncua log every failed reconnect and every timeout themselves,
at WARNING/ERROR, and asyncua logs whole endpoint descriptions at INFO. The
collectors report outages once at ERROR and recoveries once at INFO (house
rule 9), so the libraries' own loggers are turned down here unless the
application configured them explicitly.
"""

import logging

for _name, _level in (("pymodbus", logging.CRITICAL), ("asyncua", logging.WARNING)):
    _logger = logging.getLogger(_name)
    if _logger.level == logging.NOTSET:
        _logger.setLevel(_level)
