#!/usr/bin/env bash
# Goal: a node whose config differs from the DC's (here only its log level)
# knows it: its `ha status` carries a config_hash different from the DC's
# and a warning that it runs no resources; membership is unaffected.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
sed -i 's/^log_level = "info"/log_level = "debug"/' "$(lab_root 3)/ha.toml"
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
[ "$(lab_get 1 's["config_hash"]')" = "$(lab_get 2 's["config_hash"]')" ] || lab_die "n1 and n2 have different hashes"
[ "$(lab_get 1 's["config_hash"]')" != "$(lab_get 3 's["config_hash"]')" ] || lab_die "n3's hash does not differ"
warned() { [ "$(lab_get 3 'any("config" in w and "no resources" in w for w in s.get("warnings", []))')" = true ]; }
lab_wait 5 "n3 warns that its config differs and it runs no resources" warned
lab_log "n3 warnings: $(lab_get 3 's.get("warnings")')"
# Every node says so, naming n3 (not only n3 itself).
for i in 1 2 3; do
  names_n3() { [ "$(lab_get "$1" 'any(w.startswith("config of n3 differs") and "n3 runs no resources" in w for w in s.get("warnings", []))')" = true ]; }
  lab_wait 5 "n$i warns that n3's config differs" names_n3 "$i"
done
lab_log "n1 warnings: $(lab_get 1 's.get("warnings")')"
