package copier

// The run of one copy: plan, compare with the destination, transfer, tag; undo on failure.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"

	"github.com/cdk-ecr-deployment/handler/internal/crash"
	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
)

// Copy runs job.
func (c *Copier) Copy(ctx context.Context, job Job) (Result, error) {
	start := time.Now()
	srcRef, destRef := job.Src, job.Dest
	if srcRef == nil || destRef == nil {
		return Result{}, fmt.Errorf("%w: a copy needs a source and a destination", errs.ErrInvalidProperty)
	}
	destNamed, err := dockerNamed(destRef)
	if err != nil {
		return Result{}, err
	}
	srcLogin, destLogin := c.newLogin(job.SrcCreds), c.newLogin(job.DestCreds)
	srcSys, destSys := srcLogin.sys, destLogin.sys
	platform := props.Platform{Arch: "amd64"}
	if len(job.Platforms) == 1 {
		platform = job.Platforms[0]
	}
	srcSys.OSChoice, srcSys.ArchitectureChoice, srcSys.VariantChoice = platform.OSName(), platform.Arch, platform.Variant

	// The destination's state is read while the source is planned: the two are independent,
	// and each costs a TLS handshake, a login and a manifest GET.
	type destResult struct {
		have destManifest
		err  error
	}
	destDone := make(chan destResult, 1)
	go func() {
		var r destResult
		defer func() { destDone <- r }()
		defer crash.Recover(&r.err, "reading the destination")
		r.have, r.err = c.destState(ctx, destRef, destLogin)
	}()

	var p plan
	err = withRetry(ctx, job.Retry, "reading the source manifest", stallGuard(hostsOf(srcRef), func(ctx context.Context) error {
		var err error
		p, err = c.planCopy(ctx, srcRef, srcSys, job)
		p.srcGen = srcLogin.generation()
		return err
	}), srcLogin)
	if err != nil {
		return Result{}, describe(err, "reading", display(srcRef), "SrcCreds")
	}
	defer func() { _ = p.src.Close() }() // transfer may have reopened it

	dest := <-destDone
	if dest.err != nil {
		return Result{}, describe(dest.err, "reading", display(destRef), "DestCreds")
	}
	have := dest.have
	// Both registries took the credentials: a refusal from now on is of credentials that
	// worked (an expired token), which the retry policy tries once more.
	srcLogin.accept()
	destLogin.accept()

	res := Result{}
	led := &ledger{} // undo.go
	if d, ok := p.satisfiedBy(have, byteForByte(srcRef)); ok {
		slog.Info("destination already holds the image; nothing copied", "dest", display(destRef), "digest", d.String())
		res.Digest, res.Skipped = d.String(), true
		led.sawBefore(d, true)
	} else {
		// What the repository holds before the copy is never deleted by its undo; a digest
		// not known in advance (an archive, a forced format) counts as held.
		led.lookBefore(ctx, destNamed, destSys, append([]digest.Digest{p.want}, archChildren(p, job)...))
		if t, ok := destNamed.(reference.Tagged); ok {
			led.note(t.Tag(), have, p.want)
		}
		d, err := c.transfer(ctx, srcRef, destRef, srcLogin, destLogin, job, &p)
		if err != nil {
			return Result{}, c.undo(ctx, destNamed, destSys, led, job.Remove, err)
		}
		if t, ok := destNamed.(reference.Tagged); ok {
			led.wrote(t.Tag(), d)
		}
		res.Digest = d.String()
	}
	res.URI = pinned(destNamed, digest.Digest(res.Digest))

	if err := c.putTags(ctx, destNamed, destLogin, job, digest.Digest(res.Digest), led); err != nil {
		return Result{}, c.undo(ctx, destNamed, destSys, led, job.Remove, err)
	}
	if job.CopyReferrers {
		// After the image and its tags: a referrer names a manifest that must be there.
		// Also when nothing was copied: a signature may have been added since.
		if srcNamed := srcRef.DockerReference(); srcNamed != nil && isRegistry(srcRef) {
			if err := c.copyReferrers(ctx, srcNamed, destNamed, srcLogin, destLogin, job, copiedDigests(p, digest.Digest(res.Digest))); err != nil {
				return Result{}, c.undo(ctx, destNamed, destSys, led, job.Remove, err)
			}
		}
	}
	slog.Info("copy finished", "src", display(srcRef), "dest", display(destRef), "digest", res.Digest,
		"skipped", res.Skipped, "duration", time.Since(start).Round(time.Millisecond).String())
	return res, nil
}

// archChildren are the index children that ArchTags will tag, as far as the source's top
// manifest tells before the copy.
func archChildren(p plan, job Job) []digest.Digest {
	if len(job.ArchTags) == 0 || !manifest.MIMETypeIsMultiImage(p.topType) {
		return nil
	}
	list, err := manifest.ListFromBlob(p.top, p.topType)
	if err != nil {
		return nil
	}
	var out []digest.Digest
	for _, at := range job.ArchTags {
		if d, ok := childFor(list, at.Platform); ok {
			out = append(out, d)
		}
	}
	return out
}
