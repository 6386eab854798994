"""The simulator application's typed keys, in one place."""

from __future__ import annotations

from aiohttp import web

from simulator.config import SimulatorConfig
from simulator.faults import FaultTable
from simulator.notifier import Notifier
from simulator.orders import OrderStore

CONFIG = web.AppKey("config", SimulatorConfig)
STORE = web.AppKey("store", OrderStore)
FAULTS = web.AppKey("faults", FaultTable)
NOTIFIER = web.AppKey("notifier", Notifier)
