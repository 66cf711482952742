#!/usr/bin/env bash
# Makes the labelled lab fixture of issue 14 from real tools (run as root, on demand; CI only
# scores the committed result):
#
#   bash scripts/lab/make-lab-traffic.sh [out-dir]      # default test/fixtures/lab
#
# Three network namespaces joined by a bridge that lives in the server's namespace; every address
# is in 10.77.0.0/24 and exists only inside them (no default route, no link to the host's
# interfaces, IPv6 off), so no packet can leave this machine:
#
#   themis-lab-srv  br0 10.77.0.10 (sshd :22, python3 http.server :80) and 10.77.0.20-.49 (the
#                   horizontal scan's targets); tcpdump captures br0, then softflowd exports the
#                   capture as NetFlow v9 to nfcapd on the namespace's own 127.0.0.1
#   themis-lab-atk  10.77.0.101 vertical SYN scan, .102 horizontal SYN scan, .103 slow SYN scan,
#                   .111 and .112 password guessing (sshpass, 40 and 35 wrong passwords:
#                   both past Zeek's 30 guesses)
#   themis-lab-cli  10.77.0.80 good SSH logins, .81 curl GETs
#
# The tools' own logs (nmap -oX, sshd -E at LogLevel VERBOSE, curl -w) go to the labeller
# (scripts/lab/label-lab-flows.ts), which converts nfdump's JSON with the ingest converter and
# writes flows.jsonl, labels.json and tool-versions.txt into the out-dir. Every loop is bounded in
# count and every tool in time (timeout); the trap removes namespaces, processes, the test user and
# the temp dir on any exit, and a run first removes what a killed run may have left.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT_DIR="$(realpath -m "${1:-$ROOT/test/fixtures/lab}")"
NS_SRV=themis-lab-srv
NS_ATK=themis-lab-atk
NS_CLI=themis-lab-cli
LAB_USER=themislab
LAB_PASSWORD='lab-Good-Pass-7'
SERVER=10.77.0.10
NFCAPD_PORT=29996
# Whole-run guard: the slowest phase (the slow scan) takes about 3 minutes.
RUN_LIMIT_SECS=900

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: it creates network namespaces and a test user"

need=()
command -v nmap >/dev/null || need+=(nmap)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v sshpass >/dev/null || need+=(sshpass)
command -v curl >/dev/null || need+=(curl)
command -v softflowd >/dev/null || need+=(softflowd)
command -v nfcapd >/dev/null || need+=(nfdump)
command -v tcpdump >/dev/null || need+=(tcpdump)
[ -x /usr/bin/python3 ] || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/tmp/themis-lab-apt.log 2>&1 \
    || die "apt-get install ${need[*]}; see /tmp/themis-lab-apt.log"
fi

WORK=""
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  remove_lab
  [ -n "$WORK" ] && rm -rf "$WORK"
  exit "$status"
}
# Namespaces (their veths go with them) and the test user; also what a killed run left behind.
remove_lab() {
  for ns in "$NS_SRV" "$NS_ATK" "$NS_CLI"; do
    if ip netns list | grep -qw "$ns"; then
      # Processes still in a namespace keep it alive: end ours there (sshd children included).
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns" || true
    fi
  done
  if id "$LAB_USER" >/dev/null 2>&1; then userdel -r "$LAB_USER" >/dev/null 2>&1 || userdel "$LAB_USER" || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

remove_lab
WORK="$(mktemp -d /tmp/themis-lab.XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$WORK/nfcapd" "$WORK/www" "$WORK/logs" "$OUT_DIR"
in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_atk() { ip netns exec "$NS_ATK" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

# --- network ---------------------------------------------------------------------------------
log "namespaces $NS_SRV, $NS_ATK, $NS_CLI"
for ns in "$NS_SRV" "$NS_ATK" "$NS_CLI"; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=0
  ip netns exec "$ns" ip link set lo up
done
in_srv ip link add br0 type bridge
ip link add atk0 netns "$NS_ATK" type veth peer name br-atk netns "$NS_SRV"
ip link add cli0 netns "$NS_CLI" type veth peer name br-cli netns "$NS_SRV"
for port in br-atk br-cli; do in_srv ip link set "$port" master br0 up; done
in_srv ip addr add "$SERVER/24" dev br0
for host in $(seq 20 49); do in_srv ip addr add "10.77.0.$host/24" dev br0; done
in_srv ip link set br0 up
for host in 101 102 103 111 112; do in_atk ip addr add "10.77.0.$host/24" dev atk0; done
in_atk ip link set atk0 up
for host in 80 81; do in_cli ip addr add "10.77.0.$host/24" dev cli0; done
in_cli ip link set cli0 up

# --- collector, exporter, services -------------------------------------------------------------
# softflowd 1.1.0 reading br0 live processes nothing on this kernel: libpcap's TPACKET_V3 ring
# never hands it a packet (statistics: "received by libpcap: 22", "processed: 0"; tcpdump without
# --immediate-mode likewise captures 0 of 72). tcpdump in immediate mode (TPACKET_V2) captures
# br0 instead, and softflowd reads the capture afterwards with -a (flows dated by the capture's
# own clock), as test/fixtures/nfdump/ was made. A daemon is started as `ip netns exec ... &`, not
# through in_srv: ip execs the tool, so $! is the tool's own pid (a backgrounded function would be a
# subshell, and a signal to it would not reach the tool).
ip netns exec "$NS_SRV" tcpdump --immediate-mode -B 65536 -Z root -i br0 -U -n -w "$WORK/lab.pcap" tcp >"$WORK/logs/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=("$TCPDUMP")

ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
cat >"$WORK/sshd_config" <<EOF
Port 22
ListenAddress 0.0.0.0
HostKey $WORK/ssh_host_ed25519_key
PidFile $WORK/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers $LAB_USER
LogLevel VERBOSE
MaxStartups 100
MaxAuthTries 6
EOF
mkdir -p /run/sshd
useradd --create-home --home-dir "$WORK/home" --shell /bin/sh "$LAB_USER"
echo "$LAB_USER:$LAB_PASSWORD" | chpasswd
ip netns exec "$NS_SRV" /usr/sbin/sshd -D -f "$WORK/sshd_config" -E "$WORK/logs/sshd.log" &
PIDS+=($!)

for n in $(seq 1 40); do printf 'page %d of the lab web server\n' "$n" >"$WORK/www/page$n.html"; done
head -c 200000 /dev/zero | tr '\0' 'x' >"$WORK/www/large.bin"
ip netns exec "$NS_SRV" /usr/bin/python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www" >"$WORK/logs/http.log" 2>&1 &
PIDS+=($!)

listening() { in_srv ss -Hltn "sport = :$1" | grep -q LISTEN; }
for _ in $(seq 1 100); do
  listening 22 && listening 80 && grep -q 'listening on br0' "$WORK/logs/tcpdump.log" && break
  sleep 0.1
done
listening 22 || die "sshd did not listen on :22 in $NS_SRV: $(cat "$WORK/logs/sshd.log")"
listening 80 || die "http.server did not listen on :80 in $NS_SRV: $(cat "$WORK/logs/http.log")"
grep -q 'listening on br0' "$WORK/logs/tcpdump.log" || die "tcpdump did not start: $(cat "$WORK/logs/tcpdump.log")"
START_EPOCH=$(date +%s)

# --- traffic -----------------------------------------------------------------------------------
SSH_OPTS=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no
  -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 -o ConnectTimeout=5 -o LogLevel=ERROR)

# The slow scan runs in the background through the other phases: 14 ports, one every 10 s.
log "slow SYN scan from 10.77.0.103 (about 150 s, in the background)"
ip netns exec "$NS_ATK" timeout 300 nmap -sS -Pn -n -e atk0 -S 10.77.0.103 --scan-delay 10s --max-retries 0 \
  -p 21,22,23,25,80,110,139,143,443,445,3306,3389,5900,8080 -oX "$WORK/logs/nmap-slow.xml" "$SERVER" >"$WORK/logs/nmap-slow.txt" 2>&1 &
SLOW_SCAN=$!
PIDS+=("$SLOW_SCAN")

log "benign web: 16 curl GETs from 10.77.0.81"
for n in $(seq 1 16); do
  version=--http1.1
  [ $((n % 2)) -eq 0 ] && version=--http1.0
  path="page$n.html"
  [ "$n" -eq 8 ] && path=large.bin
  in_cli timeout 10 curl -s -o /dev/null "$version" --interface 10.77.0.81 \
    -w '%{local_ip} %{local_port} %{remote_ip} %{remote_port} %{http_code} %{time_total}\n' \
    "http://$SERVER/$path" >>"$WORK/logs/curl.log" || log "curl $n failed (exit $?)"
  sleep 0.5
done

log "good logins: 5 SSH sessions from 10.77.0.80"
GOOD_COMMANDS=('uname -a' 'ls -la /etc | head -40' 'cat /etc/os-release' 'id; uptime' 'head -c 100000 /dev/zero | od | tail -3')
for command in "${GOOD_COMMANDS[@]}"; do
  status=0
  in_cli timeout 30 sshpass -p "$LAB_PASSWORD" ssh "${SSH_OPTS[@]}" -b 10.77.0.80 "$LAB_USER@$SERVER" "$command" >/dev/null 2>&1 || status=$?
  echo "good-login exit=$status command=$command" >>"$WORK/logs/sshpass.log"
  sleep 1
done

log "vertical SYN scan from 10.77.0.101: ports 1-500 of $SERVER"
in_atk timeout 120 nmap -sS -Pn -n -e atk0 -S 10.77.0.101 --max-retries 1 --max-rate 500 -p 1-500 \
  -oX "$WORK/logs/nmap-vertical.xml" "$SERVER" >"$WORK/logs/nmap-vertical.txt" 2>&1 || die "vertical scan: $(cat "$WORK/logs/nmap-vertical.txt")"

log "horizontal SYN scan from 10.77.0.102: port 22 of 10.77.0.20-49"
in_atk timeout 120 nmap -sS -Pn -n -e atk0 -S 10.77.0.102 --max-retries 1 --max-rate 500 -p 22 \
  -oX "$WORK/logs/nmap-horizontal.xml" 10.77.0.20-49 >"$WORK/logs/nmap-horizontal.txt" 2>&1 || die "horizontal scan: $(cat "$WORK/logs/nmap-horizontal.txt")"

log "password guessing: 40 wrong passwords from 10.77.0.111, 35 from 10.77.0.112"
WRONG_PASSWORDS=(123456 password admin root letmein qwerty 12345678 welcome monkey dragon
  111111 abc123 iloveyou sunshine princess football master shadow trustno1 changeme
  123123 654321 superman qazwsx michael batman 1q2w3e4r passw0rd zaq12wsx baseball
  starwars hello 7777777 ninja azerty solo loveme whatever donald freedom)
guess_from() {
  local source=$1 count=$2 status
  for password in "${WRONG_PASSWORDS[@]:0:$count}"; do
    status=0
    in_atk timeout 20 sshpass -p "$password" ssh "${SSH_OPTS[@]}" -b "$source" "$LAB_USER@$SERVER" true >/dev/null 2>&1 || status=$?
    echo "guess source=$source exit=$status" >>"$WORK/logs/sshpass.log"
  done
}
guess_from 10.77.0.111 40 &
GUESS_A=$!
guess_from 10.77.0.112 35 &
GUESS_B=$!
PIDS+=("$GUESS_A" "$GUESS_B")
wait "$GUESS_A" "$GUESS_B"

log "waiting for the slow scan"
wait "$SLOW_SCAN" || die "slow scan: $(cat "$WORK/logs/nmap-slow.txt")"
[ $(( $(date +%s) - START_EPOCH )) -lt "$RUN_LIMIT_SECS" ] || die "the traffic took longer than $RUN_LIMIT_SECS s"

# --- export and collect --------------------------------------------------------------------------
log "closing the capture; softflowd exports it (NetFlow v9) to nfcapd"
kill -INT "$TCPDUMP"
for _ in $(seq 1 50); do kill -0 "$TCPDUMP" 2>/dev/null || break; sleep 0.1; done
# A packet lost here would be a probe or an answer missing from the fixture: refuse the capture.
grep -q '^0 packets dropped by kernel' "$WORK/logs/tcpdump.log" || die "tcpdump lost packets: $(cat "$WORK/logs/tcpdump.log")"
ip netns exec "$NS_SRV" nfcapd -w "$WORK/nfcapd" -p "$NFCAPD_PORT" -b 127.0.0.1 >"$WORK/logs/nfcapd.log" 2>&1 &
NFCAPD=$!
PIDS+=("$NFCAPD")
for _ in $(seq 1 50); do in_srv ss -Hlun "sport = :$NFCAPD_PORT" | grep -q . && break; sleep 0.1; done
# With -r, -c must not be given (softflowd 1.1.0 then blocks); it exits once the file is exported.
in_srv timeout 120 softflowd -r "$WORK/lab.pcap" -n "127.0.0.1:$NFCAPD_PORT" -v 9 -a -d >"$WORK/logs/softflowd.log" 2>&1 \
  || die "softflowd: $(cat "$WORK/logs/softflowd.log")"
grep -q 'Flows exported: [1-9]' "$WORK/logs/softflowd.log" || die "softflowd exported no flow: $(cat "$WORK/logs/softflowd.log") $(cat "$WORK/logs/tcpdump.log")"
# The last datagrams are on the loopback already; give nfcapd a moment to store them.
sleep 1
# nfcapd takes about 2 s to close its file on SIGTERM.
kill "$NFCAPD"
for _ in $(seq 1 300); do kill -0 "$NFCAPD" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NFCAPD" 2>/dev/null && die "nfcapd did not stop within 30 s of SIGTERM"
files=$(find "$WORK/nfcapd" -name 'nfcapd.2*' | sort)
[ -n "$files" ] || die "nfcapd wrote no file: $(cat "$WORK/logs/nfcapd.log")"
for file in $files; do TZ=UTC nfdump -r "$file" -o json; done >"$WORK/nfdump.json"
# The tools' logs the labels come from are kept beside the fixture, small as they are.
rm -rf "$OUT_DIR/logs"
mkdir -p "$OUT_DIR/logs"
cp "$WORK/logs/sshd.log" "$WORK/logs/sshpass.log" "$WORK/logs/curl.log" "$WORK/logs/nmap-"*.xml "$OUT_DIR/logs/"

{
  echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
  for package in nmap openssh-server openssh-client sshpass curl tcpdump softflowd nfdump python3; do
    echo "$package $(dpkg-query -W -f '${Version}' "$package")"
  done
  echo "nmap: $(nmap --version | head -1)"
  echo "sshd: $(/usr/sbin/sshd -V 2>&1 | head -1)"
  echo "nfdump: $(nfdump -V)"
} >"$OUT_DIR/tool-versions.txt"

log "labelling"
(cd "$ROOT" && node --import tsx scripts/lab/label-lab-flows.ts \
  --nfdump-json "$WORK/nfdump.json" --out-dir "$OUT_DIR" --sshd-log "$WORK/logs/sshd.log" --curl-log "$WORK/logs/curl.log" \
  --nmap "port-scan=$WORK/logs/nmap-vertical.xml" --nmap "address-scan=$WORK/logs/nmap-horizontal.xml" \
  --nmap "slow-scan=$WORK/logs/nmap-slow.xml")
log "done: $OUT_DIR"
