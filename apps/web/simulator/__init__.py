"""The sandbox market simulator (``manage.py runsimulator``, docs/sandbox.md).

- ``model``: the reference price of each pair (GARCH(1,1) volatility with
  jumps and a weak pull to an anchor) and the maker's mean-reverting spread
  and depth; pure Python, seeded, no Django.
- ``quoting``: the pair's grid (tick, lot, minimums) in integers, the layered
  ladder a maker wants, and the plan that moves only the levels that must
  move, by amending its stale orders (one call a level); pure Python, no
  Django.
- ``agents``: the makers, the taker and the arbitrageur, ordinary clients of
  the API through ``exchange.client`` (signed, rate-limited).
- ``setup``: the agents' accounts, keys and funding (sandbox only).
- ``runner``: the loop that drives them at a bounded rate.
"""
