package daemon

import (
	"crypto/rand"
	"math/big"
)

// Generated container names: adjective_noun, as Docker's (own word lists).
var (
	nameLeft = []string{
		"amazing", "bold", "brave", "calm", "clever", "cool", "dazzling", "eager",
		"elastic", "epic", "fervent", "focused", "gallant", "gentle", "happy", "hopeful",
		"jolly", "keen", "kind", "lucid", "modest", "nifty", "noble", "optimistic",
		"patient", "quirky", "relaxed", "serene", "sharp", "stoic", "sweet", "tender",
		"trusting", "vibrant", "wizardly", "youthful", "zealous", "zen",
	}
	nameRight = []string{
		"albatross", "badger", "beaver", "bison", "cheetah", "condor", "dolphin", "falcon",
		"ferret", "gazelle", "heron", "ibis", "jaguar", "kestrel", "koala", "lemur",
		"lynx", "marmot", "narwhal", "ocelot", "otter", "panda", "pelican", "puffin",
		"quokka", "raven", "salmon", "seal", "sparrow", "tapir", "toucan", "turtle",
		"walrus", "weasel", "wombat", "yak", "zebra",
	}
)

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

// generateName returns a free name; taken reports names in use.
func generateName(taken func(string) bool) string {
	for i := 0; ; i++ {
		name := nameLeft[randInt(len(nameLeft))] + "_" + nameRight[randInt(len(nameRight))]
		if i > 10 {
			name += "_" + big.NewInt(int64(randInt(1000))).String()
		}
		if !taken(name) {
			return name
		}
	}
}
