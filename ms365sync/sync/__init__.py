"""One target in call order: syncer, listing, permissions, inputs, shortcut, plan, apply."""
