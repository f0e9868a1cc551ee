package cognito

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// The pool's accounts: made as people sign up (the Pre sign-up trigger
// runs), deleted, signed in.

// ErrSignUpRefused: the Pre sign-up trigger refused the account (its
// username is not a name, or is someone else's).
var ErrSignUpRefused = errors.New("sign-up refused")

// CreateUsers makes each user with CreateUser.
func (s *Server) CreateUsers(ctx context.Context, users []User) error {
	for _, u := range users {
		if err := s.CreateUser(ctx, u.Username, u.Password); err != nil {
			return err
		}
		for _, g := range u.Groups {
			if err := s.AddToGroup(ctx, u.Username, g); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreateUser makes an account that can sign in with password at once (or
// sets the password of the account that has the name). It signs the
// account up (SignUp, then AdminConfirmSignUp), so that the Pre sign-up
// trigger runs: on AWS AdminCreateUser runs it too, but cognito-local
// runs triggers on SignUp only. A sign-up the trigger refuses fails with
// ErrSignUpRefused, with the trigger's message.
func (s *Server) CreateUser(ctx context.Context, username, password string) error {
	_, err := s.api.SignUp(ctx, &cip.SignUpInput{
		ClientId: aws.String(s.ClientID),
		Username: aws.String(username),
		Password: aws.String(password),
	})
	var exists *types.UsernameExistsException
	var refused *types.UserLambdaValidationException
	switch {
	case errors.As(err, &exists):
	case errors.As(err, &refused):
		return fmt.Errorf("sign %s up: %w: %s", username, ErrSignUpRefused, aws.ToString(refused.Message))
	case err != nil:
		return fmt.Errorf("sign %s up: %w", username, err)
	default:
		if _, err := s.api.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{
			UserPoolId: aws.String(s.UserPoolID), Username: aws.String(username),
		}); err != nil {
			return fmt.Errorf("confirm %s: %w", username, err)
		}
	}
	_, err = s.api.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(s.UserPoolID),
		Username:   aws.String(username),
		Password:   aws.String(password),
		Permanent:  true,
	})
	if err != nil {
		return fmt.Errorf("set the password of %s: %w", username, err)
	}
	return nil
}

// AddToGroup puts the account in a group of the pool (AdminAddUserToGroup):
// its next ID token's cognito:groups names it.
func (s *Server) AddToGroup(ctx context.Context, username, group string) error {
	_, err := s.api.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{
		UserPoolId: aws.String(s.UserPoolID), Username: aws.String(username), GroupName: aws.String(group),
	})
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", username, group, err)
	}
	return nil
}

// DeleteUser deletes the account (AdminDeleteUser): its username may be
// signed up again, as a new account with a new sub.
func (s *Server) DeleteUser(ctx context.Context, username string) error {
	_, err := s.api.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{
		UserPoolId: aws.String(s.UserPoolID), Username: aws.String(username),
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", username, err)
	}
	return nil
}

// Token signs username in with password (InitiateAuth USER_PASSWORD_AUTH,
// as the page does locally) and returns the ID token.
func (s *Server) Token(ctx context.Context, username, password string) (idToken string, err error) {
	out, err := s.api.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       types.AuthFlowTypeUserPasswordAuth,
		ClientId:       aws.String(s.ClientID),
		AuthParameters: map[string]string{"USERNAME": username, "PASSWORD": password},
	})
	if err != nil {
		return "", fmt.Errorf("sign %s in: %w", username, err)
	}
	if out.AuthenticationResult == nil || aws.ToString(out.AuthenticationResult.IdToken) == "" {
		return "", fmt.Errorf("sign %s in: no ID token (challenge %q)", username, out.ChallengeName)
	}
	return aws.ToString(out.AuthenticationResult.IdToken), nil
}
