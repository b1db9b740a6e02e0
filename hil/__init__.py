"""Hardware-in-the-loop bench: register maps, emulated Modbus devices, driver, verdicts.

The only package that imports pymodbus (pinned 3.16.*: clients, serial transport, RTU CRC).

- `hil.codec`: typed values <-> 16-bit registers (byte/word order, scale, SunSpec sunssf).
- `hil.registers`: `Point`, `RegisterMap`, `RegisterImage` (checked writes, Modbus
  exception codes).
- `hil.sunspec`: SunSpec layouts from pysunspec2's model definitions (40000, "SunS").
- `hil.vendor`: vendor flat register lists (点表) from TOML.
- `hil.pdu`: the requests a device answers and the exceptions it refuses with, by the spec.
- `hil.framing`: MBAP (TCP) and RTU byte streams to request frames; resynchronisation.
- `hil.server`: `ModbusEndpoint`, the images over Modbus TCP (a gateway) and RTU.
- `hil.emulated`: a storage unit (PCS + BMS), a PCC meter, the site device; watchdog.
- `hil.faults`: comm loss, frozen/noisy/delayed meter, PCS trip, over-temperature.
- `hil.plant`: what the bench needs of a plant (`Plant`, `PlantSample`, `UnitRatings`);
  the twin's engine adapter is `twin.hil_plant` (hil never imports the twin).
- `hil.bench`: the devices over a running plant (its step hook), trace, faults.
- `hil.serve`: a plant readied, then served in wall-clock time behind the bench.
- `hil.driver`: commanding a real PCS through a safety envelope.
- `hil.verify`: a compressed day against a controller under test; verdicts, JUnit, figure.
- `hil.report_html`: the verify run as one self-contained HTML file (verdicts, evidence).
- `hil.dashboard`: the live page (Starlette/uvicorn, server-sent events, vendored uPlot).
- `hil.conformance`: the table of every served point (docs/bench-conformance.md).
"""
