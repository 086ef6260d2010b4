"""What one poll did, for the command, the task and the caller."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PollResult:
    """What one :func:`poll` did, in total; ``accounts`` holds the result of each
    gateway account (by the name of its first settings account)."""

    reports: int = 0
    reports_matched: int = 0
    inbound: int = 0
    inbound_matched: int = 0
    rematched: int = 0
    recovered: int = 0
    #: Requests whose outcome was lost, that took the msgid of their reports.
    requests_recovered: int = 0
    #: Unmatched reports (of the last MATCH_WINDOW_DAYS, as the orphan pass found them)
    #: that more than one lost request could be theirs: nothing is guessed.
    reports_ambiguous: int = 0
    spooled: int = 0
    #: Answers an earlier poll kept on disk when the database refused them.
    answers_from_disk: int = 0
    set_aside: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    locked_by: str | None = None
    #: The settings accounts this result covers (several when they share one login).
    names: list[str] = field(default_factory=list)
    accounts: dict[str, PollResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if len(self.accounts) > 1:
            lines = [f"{name}: {part.summary()}" for name, part in self.accounts.items()]
            if self.spooled:
                lines.append(f"applied {self.spooled} spooled send outcomes")
            return "\n".join(lines)
        if self.locked_by:
            return f"poll skipped: another poll is running ({self.locked_by})"
        parts = [
            f"reports {self.reports} ({self.reports_matched} matched)",
            f"replies {self.inbound} ({self.inbound_matched} matched)",
        ]
        if self.rematched:
            parts.append(f"orphans matched {self.rematched}")
        if self.recovered:
            parts.append(f"recovered {self.recovered} journal entries")
        if self.requests_recovered:
            parts.append(
                f"msgid recovered from reports for {self.requests_recovered} lost requests"
            )
        if self.reports_ambiguous:
            parts.append(
                f"{self.reports_ambiguous} reports left unmatched: more than one lost "
                "request could be theirs"
            )
        if self.spooled:
            parts.append(f"applied {self.spooled} spooled send outcomes")
        if self.answers_from_disk:
            parts.append(f"journaled {self.answers_from_disk} answers kept on disk")
        if self.set_aside:
            parts.append(f"set aside {self.set_aside} journal entries for staff")
        if self.skipped:
            parts.append("too soon for " + ", ".join(self.skipped))
        if self.errors:
            parts.append(f"{len(self.errors)} errors: " + "; ".join(self.errors))
        return "; ".join(parts)

    def add(self, name: str, part: PollResult, several: bool) -> None:
        self.accounts[name] = part
        for counter in (
            "reports",
            "reports_matched",
            "inbound",
            "inbound_matched",
            "rematched",
            "recovered",
            "requests_recovered",
            "reports_ambiguous",
            "answers_from_disk",
            "set_aside",
        ):
            setattr(self, counter, getattr(self, counter) + getattr(part, counter))
        prefix = f"{name}: " if several else ""
        self.skipped += [prefix + s for s in part.skipped]
        self.errors += [prefix + e for e in part.errors]
        if not several:
            self.locked_by = part.locked_by
