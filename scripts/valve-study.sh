#!/usr/bin/env bash
# The valve corpus's figures docs/quality.md gives (scripts/corpus-study.sh).
exec "$(dirname "$0")/corpus-study.sh" --valve "$@"
