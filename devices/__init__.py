"""Physics of a storage unit: LFP battery pack, cabin thermal + auxiliaries, PCS, aging.

Numba kernels over arrays of units (structure of arrays); imports no other ParkTwin
package but `parktwin`.
"""
