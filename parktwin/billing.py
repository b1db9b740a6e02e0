"""Words of the electricity bill that the site file, the bill and the twin share.

The basic charge (基本电费) of a two-part (两部制) large-industry tariff is billed one of
three ways, chosen per enterprise:

- ``capacity`` (容量): installed transformer capacity [kVA] x yuan/kVA-month;
- ``demand`` (需量): the month's highest 15-min mean import [kW] x yuan/kW-month;
- ``contract`` (合同需量): a declared demand [kW] x yuan/kW-month, with the part of the
  month's maximum above a threshold (105 %) charged at a multiple (double), and the
  declared demand not below a floor (a share of the capacity).
"""

from __future__ import annotations

from typing import Literal

BillingBasis = Literal["capacity", "demand", "contract"]
BILLING_BASES: tuple[str, ...] = ("capacity", "demand", "contract")
