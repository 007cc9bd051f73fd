package copier

// A registry login for the length of one copy: the credentials in use and the system
// context built from them, renewed in place (relogin) when the retry policy sees the
// registry refuse them. Every attempt reads the system context anew, so the next attempt
// uses the new credentials.

import (
	"context"
	"fmt"
	"sync"

	"go.podman.io/image/v5/types"
)

type login struct {
	creds Credentials
	sys   *types.SystemContext
	c     *Copier

	mu       sync.Mutex
	gen      int  // how many times the credentials (or the connections) were renewed
	accepted bool // the registry took these credentials earlier in this copy
}

func (c *Copier) newLogin(creds Credentials) *login {
	return &login{creds: creds, sys: c.systemContext(creds.Current), c: c}
}

// canRelogin reports whether new credentials can be had.
func (l *login) canRelogin() bool { return l != nil && l.creds.Relogin != nil }

// generation is how many times the credentials were renewed.
func (l *login) generation() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

// relogin gets new credentials and puts them into the system context, keeping its other
// settings (the architecture chosen).
func (l *login) relogin(ctx context.Context) error {
	creds, err := l.creds.Relogin(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creds.Current = creds
	l.renew()
	return nil
}

// renew puts a new system context for l.creds.Current in place, keeping the platform chosen,
// and starts a new generation so that a source opened before is opened again. l.mu is held.
func (l *login) renew() {
	fresh := l.c.systemContext(l.creds.Current)
	fresh.OSChoice, fresh.ArchitectureChoice, fresh.VariantChoice = l.sys.OSChoice, l.sys.ArchitectureChoice, l.sys.VariantChoice
	*l.sys = *fresh
	l.gen++
}

// accept records that the registry took the credentials (the copy's first reads succeeded).
func (l *login) accept() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted = true
}

func (l *login) wasAccepted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

// reconnect keeps the credentials and makes the next attempt open new connections: a new
// system context, and a new generation, so a source opened before is opened again.
// Registries with bearer tokens (Docker Hub, GHCR, Debian's docker-registry with token auth):
// containers/image keeps a token for at least 60 s whatever its expires_in, so one that
// expires sooner is refused mid-copy; new connections fetch a new one with the same credentials.
func (l *login) reconnect() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renew()
}

// acceptedBefore reports whether every login was accepted earlier in this copy: a refusal now
// is of credentials that worked (an expired token), not of wrong ones.
func acceptedBefore(logins []*login) bool {
	n := 0
	for _, l := range logins {
		if l == nil {
			continue
		}
		if !l.wasAccepted() {
			return false
		}
		n++
	}
	return n > 0
}

// reloginAll renews every login that can be renewed; ok is false when none can.
func reloginAll(ctx context.Context, logins []*login) (ok bool, err error) {
	for _, l := range logins {
		if !l.canRelogin() {
			continue
		}
		ok = true
		if err := l.relogin(ctx); err != nil {
			return true, fmt.Errorf("logging in again failed: %w", err)
		}
	}
	return ok, nil
}
