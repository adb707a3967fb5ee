"""Which devices exist, their capacities, and the keys and arguments each script takes for them."""

from __future__ import annotations

from config import keys
from config.settings import GpuLockSettings
from gpu_lock.errors import UnknownDevice

# A slot handed to a waiter is its for this long; its first renew (or its own next try) extends that to
# a full TTL. A waiter that died while queued thus holds the device for about this long, not a TTL.
CLAIM_WINDOW_MS = 1000
# A waiter counts as dead this long after its next try was due.
WAITER_GRACE_S = 1.0
FORCE_LOG_LENGTH = 100


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
    """The configured devices, in index order, with each request's script keys and arguments precomputed."""

    def __init__(self, settings: GpuLockSettings) -> None:
        self.settings = settings
        self.capacity = {d.index: d.capacity for d in sorted(settings.device_list, key=lambda d: d.index)}
        self.all_devices = tuple(self.capacity)
        self.lease_ttl_ms = int(settings.lease_ttl * 1000)
        self.lock_timeout_ms = int(settings.lock_timeout * 1000)
        self._keys = {index: device_keys(index) for index in self.all_devices}
        requests: list[int | None] = [None, *self.all_devices]
        self._acquire_keys = {r: encoded(self._request_keys(r)) for r in requests}
        self._request = {r: self._request_arg(r) for r in requests}
        self._release = {d: self._release_call(d) for d in self.all_devices}

    def candidates(self, device: int | None) -> tuple[int, ...]:
        """Return the devices a request may take: the one asked for, or all of them.

        Raises:
            UnknownDevice: the requested device is not configured.
        """
        if device is None:
            return self.all_devices
        if device not in self.capacity:
            raise UnknownDevice(f"device {device} is not in gpu_lock.devices {list(self.all_devices)}")
        return (device,)

    def acquire_keys(self, device: int | None) -> list[bytes]:
        """Return the acquire script's KEYS from the first candidate's holders on (they depend only on the request)."""
        return self._acquire_keys[device]

    def request_arg(self, device: int | None) -> bytes:
        """Return the acquire script's last argument: TTL, lock timeout, claim window, request and devices."""
        return self._request[device]

    def device_pairs(self, device: int | None) -> list[int]:
        """Return the index and capacity of each candidate device of a request, concatenated."""
        return [v for d in self.candidates(device) for v in (d, self.capacity[d])]

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

    def _queues(self, device: int | None) -> list[str]:
        """Return every device's queue, the request's candidates first (in candidate order)."""
        first = self.candidates(device)
        rest = [d for d in self.all_devices if d not in first]
        return [self._keys[d][2] for d in (*first, *rest)]

    def _request_keys(self, device: int | None) -> list[str]:
        holders_info_stats = [k for d in self.candidates(device) for k in self._keys[d][:2] + self._keys[d][3:]]
        return holders_info_stats + self._queues(device)

    def _request_arg(self, device: int | None) -> bytes:
        head = [self.lease_ttl_ms, self.lock_timeout_ms, CLAIM_WINDOW_MS, -1 if device is None else device]
        return " ".join(str(v) for v in head + self.device_pairs(device)).encode()

    def _release_call(self, device: int) -> tuple[list[bytes], bytes]:
        holders, info, _, stats = self._keys[device]
        fixed = [holders, info, stats, keys.GPU_FENCING, keys.GPU_WAITER_DEADLINES, keys.GPU_WAITER_INFO, keys.EVENTS]
        return encoded(fixed + self._queues(device)), f"{device} {self.capacity[device]} {CLAIM_WINDOW_MS}".encode()


def encoded(names: list[str]) -> list[bytes]:
    """Return key names as bytes, which redis-py sends as they are instead of encoding them on every call."""
    return [name.encode() for name in names]
