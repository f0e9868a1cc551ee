package contract

// Attribute names and index names of the two tables. Every key attribute is a
// DynamoDB string (S); TTL attributes are numbers of epoch seconds.
const (
	// Connections table: one item per live connection (pk "c#<connectionId>")
	// and one per claimed name (pk "n#<room>#<folded name>").
	ConnPK        = "pk"
	ConnRoom      = "room"         // partition key of RoomIndex; connection items only
	ConnID        = "connectionId" // sort key of RoomIndex; on both item kinds
	ConnExpiresAt = "expiresAt"    // TTL
	// RoomIndex lists a room's members: their names, and with sign-in
	// their usernames, projected so that fan-out and a list of
	// "Alicia (@alice)" need no second read (docs/design.md, "The username
	// beside the name"), and the end of their sign-in (authExp), so that
	// fan-out skips a connection whose sign-in ended past the grace
	// (docs/design.md, "Silent connections past their sign-in"). It replaced RetiredRoomIndex, whose projection had
	// no username: a GSI's projection cannot change in place.
	RoomIndex     = "byRoomMembers"
	RoomIndexName = "name" // projected into RoomIndex so fan-out needs no second read
	// RetiredRoomIndex is the room index before it projected usernames: still in the template for one release, because
	// CloudFormation adds or deletes only one index of a table per update
	// (docs/deploy.md, "Upgrading"). Nothing reads it and the function may
	// not: the next release deletes it.
	RetiredRoomIndex = "byRoom"
	// ConnUsername is a signed-in connection record's Cognito username.
	ConnUsername    = "username"
	MessagesStream  = "stream"
	MessagesID      = "id"
	MessagesExpires = "expiresAt" // TTL

	// ConnItemPrefix and NameItemPrefix begin the pk of a connection item
	// and of a name claim item.
	ConnItemPrefix = "c#"
	NameItemPrefix = "n#"
	// RoomItemPrefix begins the pk of a room's presence item ("r#<room>"):
	// its member count and presence credit. It carries no room attribute,
	// so it is never listed as a member.
	RoomItemPrefix = "r#"

	// With sign-in, names belong to accounts across the environment: one
	// item per owned name (pk "o#<name key>", the name's folded confusable
	// skeleton) and one per account (pk "a#<account id>": its name and its
	// rate-limit log). AccountIndex finds an account's connections.
	OwnerItemPrefix   = "o#"
	AccountItemPrefix = "a#"
	ConnAccount       = "accountId" // partition key of AccountIndex; connection items only
	// AccountIndex lists an account's connections. Nothing decides by it
	// (it is eventually consistent): an account's devices are on its item.
	AccountIndex = "byAccount"

	// An account's devices and the versions of its devices and its name,
	// on its item (docs/design.md, "Devices on the account item"); every
	// decision about them reads that item consistently or updates it
	// atomically. Connection ids contain + / =: these names are always
	// passed as expression attribute names.
	AccountDevicePrefix  = "d_" // "d_<connectionId>": a map of the device's room and expiry
	AccountLeavingPrefix = "l_" // "l_<connectionId>": set while the device is being removed
	DeviceRoom           = "r"  // in a device's map: its room
	DeviceExpiresAt      = "e"  // in a device's map: its record's expiresAt (epoch seconds)
	DeviceTold           = "t"  // in a device's map, once its $connect has told the room (or found it told)
	AccountDeviceVersion = "dv" // one more with every change of the devices
	// AccountRoomPrefix: "r_<room>", a map of the account's connection
	// records in that room (connection id: the record's expiresAt), put
	// and deleted in the record's own transaction. The room's count counts
	// the account once while it is there (docs/design.md, "The count
	// counts people").
	AccountRoomPrefix = "r_"
	// AccountRoomsVersion is one more with every change of the account's
	// r_<room> maps: a deletion's tombstone keeps the maps it read, on
	// condition that none changed since (docs/design.md, "A deletion keeps
	// the records it has not removed counted").
	AccountRoomsVersion = "rv"
	// NameVersion is one more with every rename of the account, on the
	// account's item; a connection record carries the version of the name
	// it carries, and is renamed only to a newer one.
	NameVersion         = "nv"
	AccountPendingName  = "pn" // the old name of a rename whose connections are not all renamed yet
	AccountPendingClaim = "pc" // the claim by which the account held that name
	// OwnerReservedFor, on an owned name's item, is the Cognito username the
	// name is reserved for (docs/design.md, "Usernames are reserved at
	// sign-up"): only an account signed in with that username may claim it,
	// and no rename releases it. AccountUsernameReserved, on an account's
	// item, says its username's reservation is in place (an account from
	// before the reservations gets it on a $connect).
	OwnerReservedFor        = "rf"
	AccountUsernameReserved = "ur"
	// A connection record's rename without sign-in whose room may not have
	// been told yet (the invocation died after renaming the record): the
	// old name and the rename's stamp, removed once the room was told.
	ConnPendingName = "pn"
	ConnPendingAt   = "pt"
	// ConnAuthExpiresAt is when a signed-in connection's sign-in ends (s):
	// its token's exp, renewed by reauth.
	ConnAuthExpiresAt = "authExp"
	// ConnAuthIssuedAt is the iat of a signed-in connection's latest
	// reauth's token (s).
	ConnAuthIssuedAt = "authIat"
	// ConnAuthEnded is the authExp a ban writes on the account's
	// connection records in the room (in every room, for the environment),
	// in the ban's own transaction: a sign-in that ended long ago. The room
	// index projects authExp, so fan-out, private deliveries and member
	// lists skip the connection and close it again, however the ban's own
	// close was lost; no reauth renews it (docs/design.md, "A ban ends the
	// sign-in of its connections").
	ConnAuthEnded = 1

	// An account's sanctions (docs/design.md, "Moderation on the account
	// item"), each a number: when it ends (ms), 0 until lifted.
	// AccountBanPrefix+room is a ban from the room, AccountEnvBan one
	// from the whole environment, AccountMutePrefix+room a mute. The
	// account's last moderation write carries AccountModerationToken.
	AccountBanPrefix       = "ban_"
	AccountEnvBan          = "banEnv"
	AccountMutePrefix      = "mute_"
	AccountModerationToken = "mw"

	// ReaderStreamPrefix begins the stream of one reader's copies of a
	// room's private messages: "reader#<room>#<reader key>" (chat.Reader).
	ReaderStreamPrefix = "reader#"
	// CountStreamPrefix begins the Messages partition that holds a room's
	// member count in shards: "count#<room>", one item per shard (id: the
	// shard's number), each with a count and an expiresAt.
	CountStreamPrefix = "count#"
)

// Table describes one DynamoDB table's key schema.
type Table struct {
	// ID is the construct id in the stack and the table's name in the local stack.
	ID string
	// EnvVar carries the deployed table's generated name to the function.
	EnvVar       string
	PartitionKey string
	// SortKey is empty for a table without one.
	SortKey      string
	TTLAttribute string
	Indexes      []Index
}

// Index is a global secondary index with an INCLUDE projection.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
	// NonKeyAttributes are projected besides the keys.
	NonKeyAttributes []string
	// Retired: kept in the template until the next release deletes it;
	// nothing reads it, and the function has no permission on it.
	Retired bool
}

// Connections maps connections to their room and name, and claims names.
var Connections = Table{
	ID:           "Connections",
	EnvVar:       EnvConnectionsTable,
	PartitionKey: ConnPK,
	TTLAttribute: ConnExpiresAt,
	Indexes: []Index{{
		Name:             RoomIndex,
		PartitionKey:     ConnRoom,
		SortKey:          ConnID,
		NonKeyAttributes: []string{RoomIndexName, ConnExpiresAt, ConnUsername, ConnAuthExpiresAt},
	}, {
		Name:             RetiredRoomIndex,
		PartitionKey:     ConnRoom,
		SortKey:          ConnID,
		NonKeyAttributes: []string{RoomIndexName, ConnExpiresAt},
		Retired:          true,
	}, {
		Name:             AccountIndex,
		PartitionKey:     ConnAccount,
		SortKey:          ConnID,
		NonKeyAttributes: []string{ConnRoom, RoomIndexName, ConnExpiresAt},
	}},
}

// Messages records every message and every connection activity, one
// partition per room and kind, sorted by a time-ordered id.
var Messages = Table{
	ID:           "Messages",
	EnvVar:       EnvMessagesTable,
	PartitionKey: MessagesStream,
	SortKey:      MessagesID,
	TTLAttribute: MessagesExpires,
}

// Tables lists every table the chat uses.
func Tables() []Table { return []Table{Connections, Messages} }

// Live lists the table's indexes the function reads and may Query: not the
// retired ones.
func (t Table) Live() []Index {
	var out []Index
	for _, ix := range t.Indexes {
		if !ix.Retired {
			out = append(out, ix)
		}
	}
	return out
}
