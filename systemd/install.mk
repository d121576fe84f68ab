# make install: included by the top-level Makefile (include systemd/install.mk).
# Installs the binary, the systemd unit and, if absent, the config; never
# overwrites an edited config. DESTDIR stages a package build.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system

.PHONY: install
install: build
	install -D -m 0755 bin/parley $(DESTDIR)$(PREFIX)/bin/parley
	sed 's#/usr/local/bin/parley#$(PREFIX)/bin/parley#' systemd/parley.service > bin/parley.service
	install -D -m 0644 bin/parley.service $(DESTDIR)$(UNITDIR)/parley.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/parley
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/parley/credentials
	@# The service's dynamic user must read the config: keep secrets in credentials/.
	test -e $(DESTDIR)$(SYSCONFDIR)/parley/config.toml || install -m 0644 config.toml $(DESTDIR)$(SYSCONFDIR)/parley/config.toml
	@echo
	@echo "Installed. Next:"
	@echo "  put each secret in $(SYSCONFDIR)/parley/credentials/<name> (chmod 600):"
	@echo "    openai_api_key slack_bot_token slack_app_token slack_signing_secret discord_token"
	@echo "  and delete the LoadCredential= lines of unused ones from $(UNITDIR)/parley.service;"
	@echo "  edit $(SYSCONFDIR)/parley/config.toml (a relative storage.path lands in /var/lib/parley), then"
	@echo "  systemctl daemon-reload && systemctl enable --now parley"
