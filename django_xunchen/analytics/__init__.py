"""Delivery and spend analytics: where messages fail and what they cost.

- :mod:`.numbers`: each number's carrier and province by allocation (its segment),
  derived once when its row is written;
- :mod:`.latency`: the report latency's histogram buckets and percentiles;
- :mod:`.codes`: what the operators' failure codes mean;
- :mod:`.figures`: the dimensional rollup (per day, account, kind, template, campaign,
  carrier and province), kept with the daily one;
- :mod:`.report`: the analytics page's tables, from the rollup;
- :mod:`.charts`: its SVG charts, drawn on the server;
- :mod:`.alarm`: the alarm when a channel's delivery collapses.
"""
