"""Which devices exist, their capacities, and the keys and arguments each script takes for them."""

from __future__ import annotations

from config import keys
from config.gpu import GpuLockSettings
from gpu_lock.errors import RequestTooLarge, UnknownDevice

# A slot handed to a waiter is its for this long; its first renew (or its own next try) extends that to
# a full TTL. A waiter that died while queued thus holds the device for about this long, not a TTL.
CLAIM_WINDOW_MS = 1000
# A waiter counts as dead this long after its next try was due.
WAITER_GRACE_S = 1.0
FORCE_LOG_LENGTH = 100
# The acquire script's first four KEYS: fencing, waiter deadlines, waiter info, events.
SHARED_KEYS = [
    name.encode() for name in (keys.GPU_FENCING, keys.GPU_WAITER_DEADLINES, keys.GPU_WAITER_INFO, keys.EVENTS)
]


def device_keys(device: int | str) -> list[str]:
    """Return a device's holders, holder info, waiters and stats keys."""
    return [
        keys.GPU_HOLDERS.format(device=device),
        keys.GPU_HOLDER_INFO.format(device=device),
        keys.GPU_WAITERS.format(device=device),
        keys.GPU_STATS.format(device=device),
    ]


def wake_key(waiter_id: str) -> str:
    """Return the list a waiter blocks on."""
    return keys.GPU_WAKE.format(waiter_id=waiter_id)


class Layout:
    """The configured devices, in index order, with each request's script keys and arguments precomputed.

    A request is the device asked for (None: any) and the candidates that can take its amount; the keys and
    the request argument of each are built once and kept.
    """

    def __init__(self, settings: GpuLockSettings) -> None:
        self.settings = settings
        self.by_memory = settings.by_memory
        self.capacity = settings.capacities()
        self.all_devices = tuple(self.capacity)
        self.lease_ttl_ms = int(settings.lease_ttl * 1000)
        self.lock_timeout_ms = int(settings.lock_timeout * 1000)
        self._keys = {index: device_keys(index) for index in self.all_devices}
        self._acquire: dict[tuple[int | None, tuple[int, ...]], tuple[list[bytes], bytes]] = {}
        self._candidates: dict[tuple[int | None, int], tuple[int, ...]] = {}
        # A waiter's ttl on its first try: the first poll interval at its longest, plus the grace.
        self.first_waiter_ttl_ms = int((settings.poll_interval * (1 + settings.jitter) + WAITER_GRACE_S) * 1000)
        self._release = {d: self._release_call(d) for d in self.all_devices}
        # Each device's stats hash, where the lock's client adds the histograms of its own leases.
        self.stats_keys = {d: self._keys[d][3].encode() for d in self.all_devices}

    def amount(self, memory_mb: int) -> int:
        """Return the lease units a holder asking ``memory_mb`` takes: the MiB, or 1 slot.

        Raises:
            RequestTooLarge: memory-weighted devices and no memory asked for.
        """
        if not self.by_memory:
            return 1
        if memory_mb < 1:
            raise RequestTooLarge(f"a GPU lease must ask for memory_mb >= 1 (asked {memory_mb})")
        return memory_mb

    def candidates(self, device: int | None, amount: int = 1) -> tuple[int, ...]:
        """Return the devices a request may take: the one asked for, or all of them large enough for ``amount``.

        Raises:
            UnknownDevice: the requested device is not configured.
            RequestTooLarge: no candidate device is large enough for ``amount``.
        """
        known = self._candidates.get((device, amount))
        if known is not None:
            return known
        if device is not None and device not in self.capacity:
            raise UnknownDevice(f"device {device} is not in gpu_lock.devices {list(self.all_devices)}")
        wanted = self.all_devices if device is None else (device,)
        fitting = tuple(d for d in wanted if self.capacity[d] >= amount)
        if not fitting:
            largest = max(wanted, key=lambda d: self.capacity[d])
            unit = "MiB" if self.by_memory else "slots"
            raise RequestTooLarge(
                f"a lease of {amount} {unit} fits no device: the largest"
                f"{'' if device is None else ' requested'} is device {largest} with {self.capacity[largest]} {unit}"
                f"{' after gpu_lock.reserve_mb' if self.by_memory else ''}"
            )
        self._candidates[device, amount] = fitting
        return fitting

    def acquire_call(self, device: int | None, candidates: tuple[int, ...]) -> tuple[list[bytes], bytes]:
        """Return the acquire script's KEYS and its last argument, built once per request.

        The list is shared by every call of the request: callers must not change it.
        """
        request = (device, candidates)
        call = self._acquire.get(request)
        if call is None:
            call = self._acquire[request] = (
                [*SHARED_KEYS, *encoded(self._request_keys(candidates))],
                self._request_arg(request),
            )
        return call

    def device_pairs(self, candidates: tuple[int, ...]) -> list[int]:
        """Return the index and capacity of each candidate device of a request, concatenated."""
        return [v for d in candidates for v in (d, self.capacity[d])]

    def release_call(self, device: int) -> tuple[list[bytes], bytes]:
        """Return the release script's KEYS and its last argument (index, capacity, claim window)."""
        return self._release[device]

    def force_release_call(self, device: int, fencing_token: int, reason: str) -> tuple[list[bytes], list[str | int]]:
        """Return the force-release script's KEYS and ARGV.

        Raises:
            UnknownDevice: ``device`` is not configured.
        """
        self.candidates(device)
        keys_ = self._release[device][0]
        capacity = self.capacity[device]
        args: list[str | int] = [fencing_token, reason, device, capacity, CLAIM_WINDOW_MS, FORCE_LOG_LENGTH]
        return [*keys_[:6], keys.GPU_FORCE_RELEASES.encode(), *keys_[6:]], args  # then events, queues

    def renew_keys(self, device: int) -> list[str]:
        """Return the keys of renew for one device."""
        holders, info, _, stats = self._keys[device]
        return [holders, info, stats]

    def _queues(self, first: tuple[int, ...]) -> list[str]:
        """Return every device's queue, the request's candidates first (in candidate order)."""
        rest = [d for d in self.all_devices if d not in first]
        return [self._keys[d][2] for d in (*first, *rest)]

    def _request_keys(self, candidates: tuple[int, ...]) -> list[str]:
        holders_info_stats = [k for d in candidates for k in self._keys[d][:2] + self._keys[d][3:]]
        return holders_info_stats + self._queues(candidates)

    def _request_arg(self, request: tuple[int | None, tuple[int, ...]]) -> bytes:
        device, candidates = request
        # When no candidate is held, acquire.lua grants the largest at once (the first of them on ties).
        first = max(range(len(candidates)), key=lambda i: self.capacity[candidates[i]])
        head = [self.lease_ttl_ms, self.lock_timeout_ms, len(candidates), first, candidates[first]]
        head += [CLAIM_WINDOW_MS, -1 if device is None else device]
        return " ".join(str(v) for v in head + self.device_pairs(candidates)).encode()

    def _release_call(self, device: int) -> tuple[list[bytes], bytes]:
        holders, info, _, stats = self._keys[device]
        fixed = [holders, info, stats, keys.GPU_FENCING, keys.GPU_WAITER_DEADLINES, keys.GPU_WAITER_INFO, keys.EVENTS]
        return encoded(fixed + self._queues((device,))), f"{device} {self.capacity[device]} {CLAIM_WINDOW_MS}".encode()


def encoded(names: list[str]) -> list[bytes]:
    """Return key names as bytes, which redis-py sends as they are instead of encoding them on every call."""
    return [name.encode() for name in names]
