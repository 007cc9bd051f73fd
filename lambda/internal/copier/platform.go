package copier

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
	"github.com/cdk-ecr-deployment/handler/internal/props"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/types"
)

// maxConfigSize bounds the config blob read to check a single image's platform.
const maxConfigSize = 4 << 20

// checkSinglePlatform fails with errs.ErrNoSuchPlatform when a single image (not an index)
// is of another platform than every one ImageArch asks for. A config that names no
// architecture (an artifact) is not refused.
func checkSinglePlatform(ctx context.Context, src types.ImageSource, srcRef types.ImageReference, cfg types.BlobInfo, want []props.Platform) error {
	if cfg.Digest == "" {
		return nil
	}
	rc, _, err := src.GetBlob(ctx, cfg, none.NoCache)
	if err != nil {
		return fmt.Errorf("reading the config of %s: %w", display(srcRef), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
	if err != nil {
		return fmt.Errorf("reading the config of %s: %w", display(srcRef), err)
	}
	if len(b) > maxConfigSize {
		return fmt.Errorf("the config of %s is larger than %d bytes", display(srcRef), maxConfigSize)
	}
	var pl imgspecv1.Platform
	if err := json.Unmarshal(b, &pl); err != nil {
		return fmt.Errorf("parsing the config of %s: %w", display(srcRef), err)
	}
	if pl.Architecture == "" {
		return nil
	}
	// Configs often leave the variant out (arm64 images say no v8): only a stated one can differ.
	w := want[0]
	if len(want) == 1 && cmp.Or(pl.OS, "linux") == w.OSName() && pl.Architecture == w.Arch &&
		(w.Variant == "" || pl.Variant == "" || pl.Variant == w.Variant) {
		return nil
	}
	asked := make([]string, len(want))
	for i, w := range want {
		asked[i] = w.String()
	}
	has := cmp.Or(pl.OS, "linux") + "/" + pl.Architecture
	if pl.Variant != "" {
		has += "/" + pl.Variant
	}
	return fmt.Errorf("%w: %s is a single %s image, not an index; ImageArch asks for %s",
		errs.ErrNoSuchPlatform, display(srcRef), has, strings.Join(asked, ", "))
}

func platformName(sys *types.SystemContext) string {
	return props.Platform{OS: sys.OSChoice, Arch: sys.ArchitectureChoice, Variant: sys.VariantChoice}.Full()
}

// matchPlatform reports which requested platform an index child is.
// Children of another OS than asked for (linux unless ImageArch names one; BuildKit
// attestations say unknown/unknown) never match.
func matchPlatform(inst manifest.ListUpdate, want []props.Platform) (props.Platform, bool) {
	pl := inst.ReadOnly.Platform
	if pl == nil {
		return props.Platform{}, false
	}
	for _, w := range want {
		if pl.OS == w.OSName() && pl.Architecture == w.Arch && (w.Variant == "" || w.Variant == pl.Variant) {
			return w, true
		}
	}
	return props.Platform{}, false
}

func platformsOf(list manifest.List) string {
	var out []string
	for _, d := range list.Instances() {
		inst, err := list.Instance(d)
		if err != nil || inst.ReadOnly.Platform == nil {
			continue
		}
		pl := inst.ReadOnly.Platform
		s := pl.OS + "/" + pl.Architecture
		if pl.Variant != "" {
			s += "/" + pl.Variant
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "no platforms"
	}
	return strings.Join(out, ", ")
}
