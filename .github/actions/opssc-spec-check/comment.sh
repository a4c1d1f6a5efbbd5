#!/usr/bin/env bash
# Put the opssc plan on a pull request as ONE comment, updated in place.
#
# The comment starts with a hidden marker (<!-- opssc-plan -->). Each run looks
# for the first comment on the pull request that starts with it and edits that
# comment; only when there is none does it create one. A pull request with
# twenty pushes has one opssc comment showing the plan of the last push.
#
# Usage: comment.sh BODY_FILE
# Environment: GH_TOKEN (a token that may write pull-request comments),
#   GITHUB_REPOSITORY (owner/name), PR_NUMBER, and optionally HEAD_SHA (named
#   in the comment's footer). Needs `gh` and `jq` (both on GitHub's runners).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BODY_FILE" >&2
  exit 2
fi
: "${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to owner/name}"
: "${PR_NUMBER:?set PR_NUMBER to the pull request number}"

marker='<!-- opssc-plan -->'
# GitHub refuses comments over 65536 characters; keep room for the footer.
limit=60000

text=$(cat "$1")
if [ "${#text}" -gt "$limit" ]; then
  text="${text:0:$limit}"$'\n\n'"*(truncated: the whole plan is in the job summary)*"
fi
footer=""
if [ -n "${HEAD_SHA:-}" ]; then
  footer=$'\n\n'"<sub>opssc plan for ${HEAD_SHA}; this comment is updated on every push.</sub>"
fi
body="${marker}"$'\n'"${text}${footer}"

# `--paginate` prints one JSON array per page; jq reads them all.
existing=$(gh api --paginate "repos/${GITHUB_REPOSITORY}/issues/${PR_NUMBER}/comments" |
  jq -r --arg marker "$marker" '.[] | select(.body | startswith($marker)) | .id' |
  head -n 1)

if [ -n "$existing" ]; then
  gh api --method PATCH "repos/${GITHUB_REPOSITORY}/issues/comments/${existing}" \
    -f body="$body" >/dev/null
  echo "updated the opssc comment ${existing} on pull request #${PR_NUMBER}"
else
  gh api --method POST "repos/${GITHUB_REPOSITORY}/issues/${PR_NUMBER}/comments" \
    -f body="$body" >/dev/null
  echo "created the opssc comment on pull request #${PR_NUMBER}"
fi
