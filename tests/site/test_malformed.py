"""Malformed sites: each gives exactly the expected errors at ``file:line: field``.

Every case adds files to the valid base site (``helpers.BASE`` as site.yaml) or
replaces it; the expected list is complete, so a case also fails when one mistake
produces extra, cascading errors.
"""

from __future__ import annotations

import pytest

CASES = [
    # ---- YAML and file structure -----------------------------------------------------------
    ("bad-yaml", {"x.yaml": """
        tags:
          - {path: a/b, type: int16
        """}, [("x.yaml:3: invalid YAML", "")]),
    ("not-a-mapping", {"x.yaml": "- just\n- a list\n"},
     [("x.yaml:1: a site file must be a mapping", "")]),
    ("impossible-date", {"x.yaml": """
        tags:
          - path: tower-a/commissioned
            type: string
            description: 2026-13-01
        """}, [("x.yaml:4: invalid date or time '2026-13-01'", "month must be in 1..12")]),
    ("duplicate-yaml-key", {"x.yaml": """
        devices:
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021"}
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:5022"}
        """}, [("x.yaml:3: devices.plc-2:", "duplicate key (first at line 2)")]),
    ("duplicate-key-deep", {"x.yaml": """
        tags:
          - path: tower-a/a
            type: int16
          - path: tower-a/b
            type: int16
            type: float32
        """}, [("x.yaml:6: tags[1].type:", "duplicate key (first at line 5)")]),
    ("unknown-top-level-key", {"x.yaml": "histroian: {}\n"},
     [("x.yaml:1: histroian:", "unknown top-level key; did you mean 'historian'?")]),
    ("site-in-two-files", {"x.yaml": "site: {name: Other, timezone: UTC}\n"},
     [("x.yaml:1: site:", "is also defined at ")]),
    ("device-in-two-files", {"x.yaml": """
        devices:
          plc-1: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021"}
        """}, [("x.yaml:2: devices.plc-1:", "is also defined at ")]),
    ("missing-site", {"site.yaml": "buildings: []\n"}, [("site.yaml: site:", "is required")]),
    ("bad-timezone", {"site.yaml": "site: {name: T, timezone: Mars/Olympus}\n"},
     [("site.yaml:1: site.timezone:", "unknown time zone")]),
    # ---- types and unknown keys ------------------------------------------------------------
    ("wrong-type-duration", {"x.yaml": """
        devices:
          chiller-1:
            protocol: modbus
            endpoint: tcp://127.0.0.1:5021
            timeout: soon
        """}, [("x.yaml:5: devices.chiller-1.timeout:", "expected a duration")]),
    ("unknown-device-key", {"x.yaml": """
        devices:
          chiller-1:
            protocol: modbus
            endpiont: tcp://127.0.0.1:5021
        """}, [("x.yaml:2: devices.chiller-1.endpoint:", "is required"),
               ("x.yaml:4: devices.chiller-1.endpiont:", "unknown key; did you mean 'endpoint'?")]),
    ("bad-protocol", {"x.yaml": """
        devices:
          chiller-1: {protocol: bacnet, endpoint: "tcp://127.0.0.1:5021"}
        """}, [("x.yaml:2: devices.chiller-1.protocol:", "is not one of modbus, opcua")]),
    ("endpoint-protocol-mismatch", {"x.yaml": """
        devices:
          ua-1:
            protocol: opcua
            endpoint: tcp://127.0.0.1:4840
        """}, [("x.yaml:4: devices.ua-1.endpoint:", "must start with opc.tcp://")]),
    ("zero-scan-group", {"x.yaml": """
        devices:
          plc-2:
            protocol: modbus
            endpoint: tcp://127.0.0.1:5021
            scan_groups: {default: 0s}
        """}, [("x.yaml:5: devices.plc-2.scan_groups.default:", "must be more than")]),
    ("bad-device-option", {"x.yaml": """
        devices:
          plc-2:
            protocol: modbus
            endpoint: tcp://127.0.0.1:5021
            options:
              max_registers: 500
        """}, [("x.yaml:6: devices.plc-2.options.max_registers:", "must be <= 125")]),
    ("unknown-building-of-device", {"x.yaml": """
        devices:
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021", building: tower-z}
        """}, [("x.yaml:2: devices.plc-2.building:", "unknown building 'tower-z'")]),
    ("unknown-tag-key", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: float32
            device: plc-1
            adress: hr:1
        """}, [("x.yaml:5: tags[0].adress:", "unknown key")]),
    ("bad-data-type", {"x.yaml": """
        tags:
          - {path: tower-a/temp, type: double, device: plc-1, address: "hr:1"}
        """}, [("x.yaml:2: tags[0].type:", "'double' is not one of")]),
    ("duplicate-building", {"x.yaml": """
        buildings:
          - {id: tower-a, name: Again}
        """}, [("x.yaml:2: buildings[0].id:", "duplicate building id 'tower-a' (also at site.yaml:3)")]),
    # ---- tag paths ---------------------------------------------------------------------------
    ("bad-path-syntax", {"x.yaml": """
        tags:
          - {path: Tower-A/Temp, type: float32}
        """}, [("x.yaml:2: tags[0].path:", "is not a valid tag path")]),
    ("reserved-system-path", {"x.yaml": """
        tags:
          - {path: _system/uptime, type: float64}
        """}, [("x.yaml:2: tags[0].path:", "reserved")]),
    ("duplicate-path", {"x.yaml": """
        tags:
          - {path: tower-a/temp, type: float32, device: plc-1, address: "hr:1"}
          - {path: tower-a/temp, type: float32, device: plc-1, address: "hr:3"}
        """}, [("x.yaml:3: tags[1].path:", "duplicate tag path 'tower-a/temp' (also defined at x.yaml:2)")]),
    ("duplicate-path-with-equipment", {"x.yaml": """
        equipment:
          - {id: tower-a/meter-1, template: meter, device: plc-1, parameters: {ct: 100}}
        tags:
          - {path: tower-a/meter-1/energy, type: float32}
        """}, [("x.yaml:4: tags[0].path:", "duplicate tag path 'tower-a/meter-1/energy' "
                                           "(also defined at x.yaml:2)")]),
    # ---- references --------------------------------------------------------------------------
    ("dangling-device", {"x.yaml": """
        tags:
          - {path: tower-a/temp, type: float32, device: plc-9, address: "hr:1"}
        """}, [("x.yaml:2: tags[0].device:", "unknown device 'plc-9'; did you mean 'plc-1'?")]),
    ("address-without-device", {"x.yaml": """
        tags:
          - {path: tower-a/temp, type: float32, address: "hr:1"}
        """}, [("x.yaml:2: tags[0].address:", "needs a device")]),
    ("missing-scan-group", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: float32
            device: plc-1
            address: hr:1
            scan_group: slow
        """}, [("x.yaml:6: tags[0].scan_group:", "device 'plc-1' has no scan group 'slow' (known: default, fast)")]),
    ("bad-modbus-address", {"x.yaml": """
        tags:
          - {path: tower-a/temp, type: float32, device: plc-1, address: "hr:abc"}
        """}, [("x.yaml:2: tags[0].address:", "invalid Modbus address 'hr:abc'")]),
    ("dangling-template", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: metre
        """}, [("x.yaml:3: equipment[0].template:", "unknown template 'metre'; did you mean 'meter'?")]),
    ("dangling-building", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            building: tower-z
            device: plc-1
            parameters: {ct: 5}
        """}, [("x.yaml:4: equipment[0].building:", "unknown building 'tower-z'")]),
    ("area-not-in-building", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            building: tower-a
            area: basement
            device: plc-1
            parameters: {ct: 5}
        """}, [("x.yaml:5: equipment[0].area:", "building 'tower-a' has no area 'basement' (known: roof)")]),
    ("dangling-equipment-device", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-7
            parameters: {ct: 5}
        """}, [("x.yaml:4: equipment[0].device:", "unknown device 'plc-7'")]),
    # ---- scalings, ranges, deadbands, access ---------------------------------------------------
    ("scaling-raw-equal", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: int16
            device: plc-1
            address: hr:1
            scaling: {raw: [100, 100], eng: [0, 50]}
        """}, [("x.yaml:6: tags[0].scaling.raw:", "impossible scaling: raw low and high are both 100")]),
    ("scaling-eng-equal", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: int16
            device: plc-1
            address: hr:1
            scaling: {raw: [0, 100], eng: [5, 5]}
        """}, [("x.yaml:6: tags[0].scaling.eng:", "impossible scaling: eng low and high are both 5")]),
    ("scaling-not-a-pair", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: int16
            scaling: {raw: [0, 100, 200], eng: [0, 5]}
        """}, [("x.yaml:4: tags[0].scaling.raw:", "expected [lo, hi]")]),
    ("scaling-on-string", {"x.yaml": """
        tags:
          - path: tower-a/name
            type: string
            scaling: {raw: [0, 1], eng: [0, 5]}
        """}, [("x.yaml:4: tags[0].scaling:", "a string tag cannot be scaled")]),
    ("percent-deadband-without-range", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: float32
            deadband: 2%
        """}, [("x.yaml:4: tags[0].deadband:", "a percent deadband needs a range")]),
    ("bad-deadband", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: float32
            deadband: -1
        """}, [("x.yaml:4: tags[0].deadband:", "expected a number >= 0 or a percent")]),
    ("inverted-range", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: float32
            range: [50, 10]
        """}, [("x.yaml:4: tags[0].range:", "range low 50 must be below high 10")]),
    ("writable-string-on-modbus", {"x.yaml": """
        tags:
          - path: tower-a/label
            type: string
            device: plc-1
            address: hr:10[8]
            access: rw
        """}, [("x.yaml:6: tags[0].access:", "writable string tags are not supported on modbus")]),
    ("bad-access", {"x.yaml": """
        tags:
          - {path: tower-a/temp, type: float32, access: w}
        """}, [("x.yaml:2: tags[0].access:", "'w' is not one of r, rw")]),
    ("bad-tag-alarm", {"x.yaml": """
        tags:
          - path: tower-a/temp
            type: float32
            alarms:
              - {type: limit, h: 10, hh: 5}
        """}, [("x.yaml:5: tags[0].alarms[0].h:", "h (10) must be below hh (5)")]),
    # ---- templates and equipment ---------------------------------------------------------------
    ("template-unknown-placeholder", {"x.yaml": """
        templates:
          pump:
            class: pump
            parameters: {base: 0}
            tags:
              - {name: speed, type: float32, address: "hr:{bsae}"}
        """}, [("x.yaml:6: templates.pump.tags[0].address:", "unknown parameter {bsae}")]),
    ("template-builtin-parameter", {"x.yaml": """
        templates:
          pump:
            class: pump
            parameters:
              name: P1
            tags: []
        """}, [("x.yaml:5: templates.pump.parameters.name:", "{name} is built in")]),
    ("template-duplicate-tag", {"x.yaml": """
        templates:
          pump:
            class: pump
            tags:
              - {name: speed, type: float32}
              - {name: speed, type: int16}
        """}, [("x.yaml:6: templates.pump.tags[1].name:", "duplicate tag name 'speed'")]),
    ("template-bad-scaling", {"x.yaml": """
        templates:
          pump:
            class: pump
            tags:
              - name: speed
                type: int16
                scaling: {raw: [0, 0], eng: [0, 50]}
        """}, [("x.yaml:7: templates.pump.tags[0].scaling.raw:", "impossible scaling")]),
    ("unknown-parameter", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-1
            parameters: {ct: 5, cts: 10}
        """}, [("x.yaml:5: equipment[0].parameters.cts:", "template 'meter' has no parameter 'cts'")]),
    ("missing-required-parameter", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-1
        """}, [("x.yaml:2: equipment[0].parameters.ct:", "is required by template 'meter'")]),
    ("override-unknown-tag", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-1
            parameters: {ct: 5}
            overrides:
              voltage: {units: V}
        """}, [("x.yaml:7: equipment[0].overrides.voltage:", "template 'meter' has no tag 'voltage'")]),
    ("override-unknown-field", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-1
            parameters: {ct: 5}
            overrides:
              power: {unit: W}
        """}, [("x.yaml:7: equipment[0].overrides.power.unit:", "cannot override 'unit': not a tag field; did you mean 'units'?")]),
    ("override-bad-value", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-1
            parameters: {ct: 5}
            overrides:
              power:
                deadband: 5%
        """}, [("x.yaml:8: equipment[0].overrides.power.deadband:", "a percent deadband needs a range")]),
    ("override-unknown-placeholder", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            device: plc-1
            parameters: {ct: 5}
            overrides:
              power: {address: "ir:{bas}"}
        """}, [("x.yaml:7: equipment[0].overrides.power.address:", "unknown parameter {bas}")]),
    ("broken-template-no-cascade", {"x.yaml": """
        templates:
          pump:
            class: pump
            tags:
              - {name: speed, type: int16, address: "hr:1", scaling: {raw: [0, 0], eng: [0, 1]}}
        equipment:
          - {id: tower-a/pump-1, template: pump, device: plc-1}
          - {id: tower-a/pump-2, template: pump, device: plc-1}
        """}, [("x.yaml:5: templates.pump.tags[0].scaling.raw:", "impossible scaling")]),
    ("broken-device-no-cascade", {"x.yaml": """
        devices:
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021", timeout: never}
        equipment:
          - {id: tower-a/meter-1, template: meter, device: plc-2, parameters: {ct: 1}}
        tags:
          - {path: tower-a/temp, type: float32, device: plc-2, address: "hr:1"}
        """}, [("x.yaml:2: devices.plc-2.timeout:", "expected a duration")]),
    ("broken-building-no-cascade", {"x.yaml": """
        buildings:
          - {id: mall, name: Mall, use: shopping}
        devices:
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021", building: mall}
        equipment:
          - {id: mall/meter-1, template: meter, device: plc-2, building: mall, parameters: {ct: 1}}
        """}, [("x.yaml:2: buildings[0].use:", "'shopping' is not one of")]),
    ("inline-device-name-clash", {"x.yaml": """
        equipment:
          - id: plc-1
            template: meter
            device: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021"}
            parameters: {ct: 1}
        """}, [("x.yaml:2: equipment[0].id:", "its own device would be named 'plc-1' like the device at")]),
    ("instance-scan-group", {"x.yaml": """
        templates:
          pump:
            class: pump
            tags:
              - {name: speed, type: float32, address: "hr:1", scan_group: fast}
        devices:
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021"}
        equipment:
          - {id: tower-a/pump-1, template: pump, device: plc-2}
        """}, [("x.yaml:5: templates.pump.tags[0].scan_group:",
                "device 'plc-2' has no scan group 'fast' (known: default) (in equipment tower-a/pump-1)")]),
    ("template-device-bad-unit", {"x.yaml": """
        templates:
          pump:
            class: pump
            parameters: {unit: 1}
            device: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021", unit_id: "{unit}"}
            tags:
              - {name: speed, type: float32, address: "hr:1"}
        equipment:
          - {id: tower-a/pump-1, template: pump, parameters: {unit: 300}}
        """}, [("x.yaml:5: templates.pump.device.unit_id:", "300 must be <= 255 (in equipment tower-a/pump-1)")]),
    ("bad-equipment-id", {"x.yaml": """
        equipment:
          - {id: "Tower A/meter", template: meter, device: plc-1, parameters: {ct: 5}}
        """}, [("x.yaml:2: equipment[0].id:", "is not a valid tag path")]),
    ("duplicate-equipment-from-count", {"x.yaml": """
        equipment:
          - {id: tower-a/meter-2, template: meter, device: plc-1, parameters: {ct: 5}}
          - id: tower-a/meter-{n}
            count: 3
            template: meter
            device: plc-1
            parameters: {ct: 5, base: "{n}"}
        """}, [("x.yaml:3: equipment[1].id:", "duplicate equipment id 'tower-a/meter-2' (also at x.yaml:2)")]),
    ("count-unknown-placeholder", {"x.yaml": """
        equipment:
          - id: tower-a/meter-{n}-{i}
            count: 2
            template: meter
            device: plc-1
            parameters: {ct: 5}
        """}, [("x.yaml:2: equipment[0]:", "unknown parameter {i} (only {n} is known")]),
    ("count-without-n", {"x.yaml": """
        equipment:
          - id: tower-a/meter
            count: 2
            template: meter
            device: plc-1
            parameters: {ct: 5}
        """}, [("x.yaml:2: equipment[0].id:", "an entry with count needs {n} in its id")]),
    ("equipment-without-device", {"x.yaml": """
        equipment:
          - id: tower-a/meter-1
            template: meter
            parameters: {ct: 5}
        """}, [("x.yaml:2: equipment[0].device:", "is required: template 'meter' has tags with addresses")]),
    # ---- tag files -------------------------------------------------------------------------------
    ("missing-tag-file", {"x.yaml": "tag_files: [nope.csv]\n"}, [("x.yaml:1: tag_files[0]:", "no such file")]),
    ("tag-file-listed-twice", {"x.yaml": "tag_files: [t.csv]\n", "y.yaml": "tag_files:\n  - ./t.csv\n",
                               "t.csv": "path,type\na/b,bool\n"},
     [("y.yaml:2: tag_files[0]:", "./t.csv is already listed at x.yaml:1")]),
    ("csv-bad-number", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,device,address,raw_lo,raw_hi,eng_lo,eng_hi
        tower-a/temp,int16,plc-1,hr:1,0,4095,0,100
        tower-a/flow,int16,plc-1,hr:2,0,4O95,0,100
        """}, [("t.csv:3: raw_hi:", "expected a number, got '4O95'")]),
    ("csv-unknown-column", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,unit
        tower-a/temp,int16,degC
        """}, [("t.csv:1: unit:", "unknown column; did you mean 'units'?")]),
    ("csv-missing-type-column", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,units
        tower-a/temp,degC
        """}, [("t.csv:1: type:", "required column is missing")]),
    ("csv-duplicate-path", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,device,address
        tower-a/temp,int16,plc-1,hr:1
        tower-a/temp,int16,plc-1,hr:2
        """}, [("t.csv:3: path:", "duplicate tag path 'tower-a/temp' (also defined at t.csv:2)")]),
    ("csv-dangling-device", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,device,address
        tower-a/temp,int16,plc-5,hr:1
        """}, [("t.csv:2: device:", "unknown device 'plc-5'")]),
    ("csv-half-range-and-bad-type", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,range_lo,range_hi
        tower-a/temp,float,0,
        """}, [("t.csv:2: type:", "'float' is not one of"),
               ("t.csv:2: range_hi:", "range_lo and range_hi go together")]),
    ("csv-percent-deadband", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,deadband
        tower-a/temp,float32,5%
        """}, [("t.csv:2: deadband:", "a percent deadband needs a range")]),
    ("csv-impossible-scaling", {"x.yaml": "tag_files: [t.csv]\n", "t.csv": """
        path,type,raw_lo,raw_hi,eng_lo,eng_hi
        tower-a/temp,int16,0,100,20,20
        """}, [("t.csv:2: eng_lo:", "impossible scaling: eng low and high are both 20")]),
    # ---- sections of other packages ------------------------------------------------------------
    ("server-bad-port", {"x.yaml": """
        server:
          api: {port: 70000}
        """}, [("x.yaml:2: server.api.port:", "70000 must be <= 65535")]),
    ("server-short-token", {"x.yaml": """
        server:
          api:
            tokens:
              abc: {user: gw}
        """}, [("x.yaml:4: server.api.tokens.abc:", "invalid name 'abc'")]),
]


@pytest.mark.parametrize("files,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_site(make_site, site_errors, files, expected):
    root = make_site(files, base="site.yaml" not in files)
    errors = site_errors(root)
    assert len(errors) == len(expected), "\n".join(errors)
    for (prefix, text), error in zip(expected, errors):
        assert error.startswith(prefix) and text in error, f"expected {prefix}...{text}\n got {error}"

