# render-fixture.sh - sourced (not run) by the shell tests that run
# `labagent render` the way lab IT does: tests/render/render-cli.sh and
# tests/package/sandbox-render.sh.
#
# Why: both render the same 4x6 product on the sample registry's DS620; one
# config here keeps them rendering the same thing, so a change to the config
# grammar is made once.

# render_fixture_config FILE SRC SHARPEN - write the agent's config to FILE:
# the sample registry (SRC/profiles), a DS620 queue and the 4x6 glossy product
# print-4x6-glossy (fill, sharpened by SHARPEN).
render_fixture_config() {
        cat >"$1" <<YAML
lab:
  id: test-lab
platform:
  url: https://localhost/
  ca_file: /nonexistent/ca.pem
  cert_file: /nonexistent/client.pem
  key_file: /nonexistent/client.key
printers:
  - { name: ds620, driver: ipp, uri: "ipp://localhost:631/printers/ds620", model: dnp-ds620 }
products:
  - { sku: print-4x6-glossy, media: na_index-4x6_4x6in, media_type: photographic-glossy, fit: fill, sharpen: $3 }
profiles:
  directory: $2/profiles
YAML
}
