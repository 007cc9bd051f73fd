package copier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cdk-ecr-deployment/handler/internal/errs"
)

func archLog(job Job) string {
	if job.CopyImageIndex {
		return "all (CopyImageIndex)"
	}
	if len(job.Platforms) == 0 {
		return "amd64 (default)"
	}
	s := make([]string, len(job.Platforms))
	for i, p := range job.Platforms {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// describe adds what failed, for which image, and a hint: the Reason CloudFormation shows.
func describe(err error, verb, what, credsProp string) error {
	err = errs.Classify(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errs.ErrDeadline):
		return fmt.Errorf("%w: %s %s did not finish before the Lambda timeout: %v", errs.ErrDeadline, verb, what, err)
	case errors.Is(err, errs.ErrInvalidProperty), errors.Is(err, errs.ErrSecret), errors.Is(err, errs.ErrCorruptArchive),
		errors.Is(err, errs.ErrNoSuchPlatform),
		errors.Is(err, errs.ErrNotFound) && !strings.HasPrefix(what, "docker://"):
		return err
	case errors.Is(err, errs.ErrUnauthorized):
		hint := "check the credentials and the handler role's permissions"
		if credsProp != "" {
			hint = "check " + credsProp + " (or, for ECR, the handler role's permissions)"
		}
		return fmt.Errorf("%w %s %s: %s: %v", errs.ErrUnauthorized, verb, what, hint, err)
	case errors.Is(err, errs.ErrNotFound):
		return fmt.Errorf("%w: manifest unknown: %s does not exist: check the image name and tag: %v", errs.ErrNotFound, what, err)
	}
	return fmt.Errorf("%s %s: %w", verb, what, err)
}
