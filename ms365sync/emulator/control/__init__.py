"""What tests and benchmarks turn: settings (latency, throttle budgets, fault rates), seeded
fault decisions, resource-unit throttling, the request log and the `/_emulator/` endpoints."""

from __future__ import annotations

from ms365sync.emulator.control.endpoints import ADMIN_KEY_HEADER, ControlService

__all__ = ["ADMIN_KEY_HEADER", "ControlService"]
