"""A dry run's applier: what applying the plan would record, with nothing changed on disk.

The one place a dry run differs from a real one once the plan is made: the syncer builds a
`Previewer` instead of an `Applier`, and everything else (planning, reporting, recording
into a throwaway copy of the state store) runs the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

from ms365sync.models import Action, ActionKind, MirrorFile
from ms365sync.sync.apply import Applier, Done, in_the_way, untouched
from ms365sync.sync.issues import Cause


class Previewer(Applier):
    """Decides per action as `Applier` would, reading local files but writing nothing."""

    def apply(self, actions: Sequence[Action]) -> list[Done]:
        """What `Applier.apply` would record, reading the disk but changing nothing.

        Downloads are assumed to succeed; what a real run decides from local files (an
        identical copy adopted, a file of someone else's in the way) is decided the same way.
        """
        results: list[Done] = []
        for action in actions:
            if action.kind is ActionKind.SKIP:
                results.append(Done(action, error=action.reason))
            elif action.kind is ActionKind.DELETE:
                results.append(self._per_file(action, self._preview_delete))
            else:
                results.append(self._per_file(action, self._preview))
        return results

    def _preview_delete(self, action: Action) -> Done:
        assert action.mirror is not None
        untouched(self.mirror, action.mirror)  # fails where the real deletion would
        return Done(action)

    def _preview(self, action: Action) -> Done:
        remote = action.remote
        assert remote is not None and remote.permissions is not None
        adopted = False
        if self._needs_content(action):
            adopted = self._already_there(action, remote)
            if not adopted and remote.local_path in self.foreign:
                return Done(action, error=in_the_way(remote), cause=Cause.LOCAL)
        return Done(action, record=MirrorFile.placed(remote, 0), adopted=adopted)
