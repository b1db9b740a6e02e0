"""Hardware-in-the-loop bench: register maps, emulated Modbus devices, driver, verdicts.

The only package that imports pymodbus.
"""
