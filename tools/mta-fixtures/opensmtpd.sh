#!/usr/bin/env bash
# Real OpenSMTPD bounces for test/fixtures/mta (see tools/mta-fixtures/README.md).
#
# Debian's opensmtpd conflicts with postfix (both provide mail-transport-agent), so it is not
# installed: its .deb is fetched with `apt-get download` and unpacked into the work directory.
# Its spool (/var/spool/smtpd) and control socket (/var/run/smtpd.sock) are compiled in, so each
# daemon runs in a private mount namespace (unshare --mount) where those paths, and
# /etc/resolv.conf, are bind mounts of work-directory folders. Nothing outside the work
# directory is written (its chroot /var/lib/opensmtpd/empty is a bind mount too), except the two system users the binary drops privileges to
# (opensmtpd, opensmtpq, created with adduser --system as the package's postinst does).
# All traffic stays on loopback. Needs root, python3, unshare, and ../shared/tools/realmta for
# its SMTP sink and NXDOMAIN DNS stub.
#
# Usage: tools/mta-fixtures/opensmtpd.sh [OUTDIR]   (default test/fixtures/mta/opensmtpd)
set -euo pipefail
umask 022
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
realmta=${REALMTA_DIR:-$(cd "$repo/../shared/tools/realmta" 2>/dev/null && pwd || echo "$repo/test/fixtures/shared/tools/realmta")}
out=${1:-$repo/test/fixtures/mta/opensmtpd}
work=$(mktemp -d /tmp/mta-opensmtpd-XXXXXX)
chmod 755 "$work"
FRONT=10045 REMOTE=10046 CLOSED=10047 SINK=10049 DNS=127.0.0.154
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
cd "$work"
apt-get download opensmtpd >/dev/null 2>&1
dpkg -x opensmtpd_*.deb root
version=$( (root/usr/sbin/smtpd -h 2>&1 || true) | sed -n "s/^version: OpenSMTPD //p")
echo "opensmtpd $version in $work"
for name in opensmtpd opensmtpq; do
  getent group "$name" >/dev/null || addgroup --system "$name" >/dev/null
  id "$name" >/dev/null 2>&1 || adduser --system --home /var/lib/opensmtpd/empty --no-create-home --disabled-password --ingroup "$name" "$name" >/dev/null
done

mkdir -p varlib/opensmtpd/empty sink front/var/spool front/run remote/var/spool remote/run remote/mail/ok remote/mail/full
echo "nameserver $DNS" > resolv.conf
python3 "$realmta/lib/sink.py" --listen 127.0.0.1:$SINK --outdir "$work/sink" --max-seconds 600 >sink.log 2>&1 &
pids+=($!)
python3 "$realmta/lib/dnsstub.py" --listen $DNS:53 --log "$work/dns.jsonl" --max-seconds 600 >dns.log 2>&1 &
pids+=($!)

# The remote MX: a second OpenSMTPD with a 20000-byte size limit, two mailboxes (one on a full
# 64 kB file system), and nothing else: every other recipient is refused at RCPT.
cat > remote.conf <<EOF
listen on 127.0.0.1 port $REMOTE hostname mx.remote.test
smtp max-message-size 20000
queue ttl 40s
bounce warn-interval 15s
table mailboxes { "ok@remote.test", "full@remote.test" }
action "deliver" maildir "$work/remote/mail/%{dest.user}" user nobody
action "sink" relay host smtp://127.0.0.1:$SINK
match from any for rcpt-to <mailboxes> action "deliver"
match from any for domain "bounces.test" action "sink"
EOF
# The MTA under test: relays to the remote, to a closed port, through DNS, and DSNs to the sink.
cat > front.conf <<EOF
listen on 127.0.0.1 port $FRONT hostname mx.opensmtpd.test
queue ttl 40s
bounce warn-interval 15s
action "remote" relay host smtp://127.0.0.1:$REMOTE
action "down" relay host smtp://127.0.0.1:$CLOSED
action "mx" relay
action "sink" relay host smtp://127.0.0.1:$SINK
match from any for domain "remote.test" action "remote"
match from any for domain "down.test" action "down"
match from any for domain "unroutable.test" action "mx"
match from any for domain "bounces.test" action "sink"
EOF
chmod 644 remote.conf front.conf
chown nobody remote/mail/ok remote/mail/full

start() { # name conf [extra mount commands]
  local name=$1 conf=$2 extra=${3:-}
  unshare --mount --propagation private sh -c "
    mount --bind '$work/$name/var/spool' /var/spool &&
    mount --bind '$work/$name/run' /run &&
    mount --bind '$work/varlib' /var/lib &&
    mount --bind '$work/resolv.conf' /etc/resolv.conf && $extra
    exec '$work/root/usr/sbin/smtpd' -d -f '$work/$conf'" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
start remote remote.conf "mount -t tmpfs -o size=64k tmpfs '$work/remote/mail/full' && dd if=/dev/zero of='$work/remote/mail/full/filler' bs=1k count=60 2>/dev/null; chown -R nobody '$work/remote/mail/full';"
start front front.conf
sleep 3

# Each case: id, category, envelope recipient, body size. Expected outcomes are in labels.jsonl.
python3 - "$FRONT" <<'EOF'
import smtplib, sys
port = int(sys.argv[1])
cases = [
    ("osd-01", "remote_user_unknown", "nx-osd-01@remote.test", 300),
    ("osd-02", "message_too_large", "ok@remote.test", 50000),
    ("osd-03", "domain_not_found", "someone-osd-03@unroutable.test", 300),
    ("osd-04", "connection_refused_expired", "someone-osd-04@down.test", 300),
]
for cid, cat, rcpt, size in cases:
    body = ("x" * 76 + "\r\n") * (size // 78 + 1)
    msg = f"From: sender <sender@example.com>\r\nTo: <{rcpt}>\r\nSubject: {cat} {cid}\r\nMessage-ID: <{cid}@example.com>\r\nX-Mailtrail-Id: {cid}\r\n\r\n{body}"
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail(f"b+{cid}@bounces.test", [rcpt], msg.encode())
    print("submitted", cid, cat, rcpt)
EOF
echo "waiting for DSNs (queue ttl 40s)..."
for i in $(seq 1 30); do
  # the expired case is the last: its final DSN comes after the queue ttl
  n=$( (grep -l 'Delivery status notification: failed' $(grep -l 'someone-osd-04' sink/*.eml 2>/dev/null) 2>/dev/null || true) | wc -l)
  [ "$n" -ge 1 ] && break
  sleep 5
done
sleep 5
mkdir -p "$out"
ls sink/*.eml >/dev/null 2>&1 || { echo "no DSN arrived; logs in $work" >&2; exit 2; }
for f in sink/*.eml; do
  id=$(grep -o -m1 'b+osd-[0-9]*@bounces.test' "$f" | sed 's/b+\(osd-[0-9]*\)@.*/\1/')
  kind=$(grep -q -m1 -i '^Subject:.*failed' "$f" && echo failed || echo delayed)
  cp "$f" "$out/opensmtpd-$version-$id-$kind.eml"
done
echo "version=$version" > "$out/VERSION"
ls -l "$out"
echo "logs in $work"
