"""The park's feeders in pandapower, and a fast time-series power flow that matches runpp.

The only package that imports pandapower; the pandapower net never leaves it.
"""
