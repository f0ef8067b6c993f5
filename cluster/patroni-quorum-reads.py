#!/usr/bin/python3
# patroni-quorum-reads.py: Patroni whose etcd v3 reads are linearizable.
#
# Patroni 3.0.x reads its cluster state from etcd with serializable reads
# ("we can tolerate stale reads"): whichever etcd member it talks to
# answers from its own copy, without asking the raft leader.  An etcd
# member that was cut off with the old primary and has just come back
# still holds the leader key as it was before the cut (naming the old
# primary) until it catches up.  If the new primary's Patroni switches to
# that member at that moment (its own member is busy with the election the
# returning member causes), it believes someone else holds the lock and
# demotes itself, and the old primary's Patroni, reading the same stale
# copy, promotes the old primary again on a timeline of its own: every
# write acknowledged during the cut is gone.  Drill 3
# (tests/cluster/drills.sh) lost 65 acknowledged writes that way.
#
# A linearizable read (etcd v3's default) is answered only once the member
# has confirmed with the raft leader that it has applied everything
# committed before the read: a stale or cut-off member cannot answer it
# (it times out, and Patroni moves to another member).  Later Patroni
# releases protect against the same thing by remembering the highest raft
# term seen and ignoring a member that reports a lower one; the one Debian
# 12 ships does not, so this launcher makes the reads linearizable and then
# runs Patroni unchanged.  The cost is one round trip to the etcd leader
# per read, a few a second for a whole cluster.
import sys

from patroni.dcs import etcd3
from patroni.version import __version__

_auth = etcd3.Etcd3Client.__dict__["_handle_auth_errors"]


def _linearizable_range(self, key, range_end=None, retry=None):
    # build_range_request sets no "serializable": etcd reads by quorum.
    return self.call_rpc("/kv/range", etcd3.build_range_request(key, range_end), retry)


if __version__.startswith("3.0."):
    etcd3.Etcd3Client.range = _auth(_linearizable_range)
else:
    # Only 3.0.x is known to read this way; say so rather than patch a
    # method whose shape may have changed.
    print("patroni-quorum-reads: Patroni %s, reads left as they are" % __version__,
          file=sys.stderr)

# Patroni starts some helpers with multiprocessing's "spawn", which imports
# this file again as __mp_main__: they get the change above, and must not
# run Patroni a second time.
if __name__ == "__main__":
    from patroni.__main__ import main

    sys.exit(main())
