package props

import (
	"regexp"
)

// roleArnPattern is an IAM role ARN in any partition: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME.
// IAM role names and paths allow [\w+=,.@-]; the path may have several segments.
var roleArnPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// parseRoleArn reads SrcRoleArn or DestRoleArn: empty, or an IAM role ARN.
func parseRoleArn(raw map[string]any, prop string) (string, error) {
	v, err := optionalString(raw, prop)
	if err != nil || v == "" {
		return v, err
	}
	if !roleArnPattern.MatchString(v) {
		return "", invalid(prop, "%q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", v)
	}
	return v, nil
}
