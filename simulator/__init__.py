"""A local Stripay: the documented pay/order API, signed notifications with
Stripay's retry schedule, and a ``/_sim/`` control API for tests and demos."""
