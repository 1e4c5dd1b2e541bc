"""Everything ms365sync does on local disk: the confined mirror, atomic writes, names, the lock."""
