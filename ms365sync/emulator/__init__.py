"""A local, stateful, fault-injecting emulator of Microsoft Graph and the identity platform.

It serves the parts of Graph v1.0 and of login.microsoftonline.com that a SharePoint
library sync uses, for the demo, the test suite and the benchmarks. It imports nothing
from the rest of ms365sync, so it stays an independent oracle of Graph's behaviour.
"""
