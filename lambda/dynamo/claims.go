// Name claims (sign-in off): a name is a room's, held by one connection at
// a time, taken back by its resume token, released when its holder leaves
// (docs/design.md, Data model and Writes that are safe to retry).

package dynamo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// ClaimName implements chat.Store. One conditional UpdateItem, plus two
// GetItems and a PutItem only when the name is held. The update records the
// holder it replaced (prev), so a retry of an applied claim still reports
// the connection a resume took the name over from, and adds the claimer to
// the claim's holders: a reconnect that fails after its claim (a conflict,
// a crash) leaves itself there, so the next one still learns of the
// connection the name was first taken from, however many failed in between.
func (s *Store) ClaimName(ctx context.Context, c chat.Claim) ([]string, error) {
	now := s.now()
	w := newWriteToken()
	cond := "attribute_not_exists(#pk) OR #conn = :me OR #exp < :now OR #w = :w"
	names := map[string]string{"#pk": contract.ConnPK, "#conn": contract.ConnID, "#exp": contract.ConnExpiresAt,
		"#name": contract.RoomIndexName, "#resume": attrResume, "#at": attrClaimedAt, "#w": attrWrite, "#prev": attrPrevious,
		"#holders": attrHolders}
	values := map[string]types.AttributeValue{":me": str(c.ConnID), ":now": num(now.Unix()), ":name": str(c.Name),
		":token": str(c.Token), ":at": num(now.UnixMilli()), ":exp": num(c.ExpiresAt.Unix()), ":w": str(w), ":none": str(""),
		":holder": &types.AttributeValueMemberSS{Value: []string{c.ConnID}}}
	if c.Resume != "" {
		cond += " OR #resume = :resume"
		values[":resume"] = str(c.Resume)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.names.Connections),
		Key:       key(contract.ConnPK, claimKey(c.Room, c.Name)),
		UpdateExpression: aws.String("SET #prev = if_not_exists(#conn, :none), #conn = :me, #name = :name, " +
			"#resume = :token, #at = :at, #exp = :exp, #w = :w ADD #holders :holder"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllOld,
	})
	if err == nil {
		return previousOwners(out.Attributes, c.ConnID, w), nil
	}
	if !conditionFailed(err) {
		return nil, fmt.Errorf("claim name: %w", err)
	}
	return nil, s.takeOrphan(ctx, c, now, w)
}

// previousOwners reads the connections a claim replaced from the item as it
// was before the update: its holder then (or, when that item was written by
// an earlier attempt of this very request, the holder that attempt
// replaced) and the holders before it not yet forgotten.
func previousOwners(old map[string]types.AttributeValue, me, w string) []string {
	var prev claimItem
	if err := attributevalue.UnmarshalMap(old, &prev); err != nil {
		return nil
	}
	owner := prev.ConnectionID
	if prev.Write == w {
		owner = prev.Previous
	}
	var owners []string
	for _, id := range append([]string{owner}, prev.Holders...) {
		if id != "" && id != me && !slices.Contains(owners, id) {
			owners = append(owners, id)
		}
	}
	return owners
}

// ForgetReplaced implements chat.Store: one UpdateItem that deletes the
// connections from the claim's holders while connID holds it (a claimer
// since then has learnt of them, and removes them itself).
func (s *Store) ForgetReplaced(ctx context.Context, room, name, connID string, replaced []string) error {
	if len(replaced) == 0 {
		return nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.names.Connections),
		Key:                      key(contract.ConnPK, claimKey(room, name)),
		UpdateExpression:         aws.String("DELETE #holders :replaced"),
		ConditionExpression:      aws.String("#conn = :me"),
		ExpressionAttributeNames: map[string]string{"#holders": attrHolders, "#conn": contract.ConnID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":replaced": &types.AttributeValueMemberSS{Value: replaced}, ":me": str(connID)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("forget replaced connections: %w", err)
	}
	return nil
}

// takeOrphan takes a name whose holder no longer has it: no live record
// (its $connect failed half-way, or the record was removed but the release
// failed), or a record under another name (a failed release after a
// rename), once the claim is older than orphanGrace.
func (s *Store) takeOrphan(ctx context.Context, c chat.Claim, now time.Time, w string) error {
	var held claimItem
	if found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, claimKey(c.Room, c.Name)), &held); err != nil {
		return fmt.Errorf("read name claim: %w", err)
	} else if !found || now.Sub(time.UnixMilli(held.ClaimedAt)) < orphanGrace {
		return chat.ErrNameTaken
	}
	var owner connItem
	if found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, connKey(held.ConnectionID)), &owner); err != nil {
		return fmt.Errorf("read name holder: %w", err)
	} else if found && owner.ExpiresAt >= now.Unix() && chat.Fold(owner.Name) == chat.Fold(c.Name) {
		return chat.ErrNameTaken
	}
	// The claim read above, unchanged since: not refreshed by its holder
	// (same connection id, a newer claimedAt) in between.
	// Not a resume: the holder, if it still exists, keeps its connection
	// (under its other name) and must not be replaced.
	return s.takeHeld(ctx, claimItem{
		PK: claimKey(c.Room, c.Name), ConnectionID: c.ConnID, Name: c.Name, Resume: c.Token,
		ClaimedAt: now.UnixMilli(), ExpiresAt: c.ExpiresAt.Unix(), Write: w, Holders: []string{c.ConnID},
	}, contract.ConnID, held.ConnectionID, held.ClaimedAt, w)
}

// takeHeld puts item over an orphaned claim, only if the claim is still
// the one read (holderAttr = held, claimedAt = heldAt: not claimed again,
// nor refreshed by its holder, in between) or is this call's own write w
// (a retry of an applied put), and never over a reserved name (an
// account's since). A claim changed since is ErrNameTaken.
func (s *Store) takeHeld(ctx context.Context, item any, holderAttr, held string, heldAt int64, w string) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("take orphaned name: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.names.Connections),
		Item:                     av,
		ConditionExpression:      aws.String("(#held = :held AND #at = :heldAt AND attribute_not_exists(#rf)) OR #w = :w"),
		ExpressionAttributeNames: map[string]string{"#held": holderAttr, "#at": attrClaimedAt, "#w": attrWrite, "#rf": contract.OwnerReservedFor},
		ExpressionAttributeValues: map[string]types.AttributeValue{":held": str(held),
			":heldAt": num(heldAt), ":w": str(w)},
	})
	switch {
	case err == nil:
		return nil
	case conditionFailed(err):
		return chat.ErrNameTaken
	}
	return fmt.Errorf("take orphaned name: %w", err)
}

// ReleaseName implements chat.Store: one conditional DeleteItem, plus a
// GetItem when its condition fails. A retry of an applied release finds no
// claim, which is the outcome it wanted. A claim held by another connection
// counts as a resume only when it names connID as the holder it replaced
// or among its holders: a stranger who claimed the name after the release
// did not resume.
func (s *Store) ReleaseName(ctx context.Context, room, name, connID string) (string, error) {
	k := key(contract.ConnPK, claimKey(room, name))
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.names.Connections),
		Key:                       k,
		ConditionExpression:       aws.String("#conn = :me"),
		ExpressionAttributeNames:  map[string]string{"#conn": contract.ConnID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(connID)},
	})
	if err == nil {
		return "", nil
	}
	if !conditionFailed(err) {
		return "", fmt.Errorf("release name: %w", err)
	}
	var held claimItem
	found, err := s.get(ctx, s.names.Connections, k, &held)
	if err != nil {
		return "", fmt.Errorf("read name claim: %w", err)
	}
	resumed := held.Previous == connID || slices.Contains(held.Holders, connID)
	if found && resumed && held.ConnectionID != connID && held.ExpiresAt >= s.now().Unix() {
		return held.ConnectionID, nil
	}
	return "", nil
}

type claimItem struct {
	PK           string `dynamodbav:"pk"`
	ConnectionID string `dynamodbav:"connectionId"`
	Name         string `dynamodbav:"name"`
	Resume       string `dynamodbav:"resume"`
	ClaimedAt    int64  `dynamodbav:"claimedAt"`      // ms
	ExpiresAt    int64  `dynamodbav:"expiresAt"`      // s, TTL
	Write        string `dynamodbav:"w,omitempty"`    // token of the write that made this claim
	Previous     string `dynamodbav:"prev,omitempty"` // the holder before that write
	// Holders are every connection that has held the claim since the last
	// holder whose $connect finished (ForgetReplaced), that one included.
	Holders []string `dynamodbav:"holders,stringset,omitempty"`
}

func claimKey(room, name string) string {
	return contract.NameItemPrefix + room + "#" + chat.Fold(name)
}

// Owner implements chat.Store: one GetItem of the claim.
func (s *Store) Owner(ctx context.Context, room, name string) (chat.Member, bool, error) {
	var it claimItem
	found, err := s.get(ctx, s.names.Connections, key(contract.ConnPK, claimKey(room, name)), &it)
	if err != nil {
		return chat.Member{}, false, fmt.Errorf("read name claim: %w", err)
	}
	if !found || it.ExpiresAt < s.now().Unix() {
		return chat.Member{}, false, nil
	}
	return chat.Member{ConnID: it.ConnectionID, Name: it.Name}, true, nil
}
