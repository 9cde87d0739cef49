// A deterministic generator of multi-session conversations with planted facts and queries of
// known answer, shared by memory_bench (conversation-like entries at scale) and memory_quality
// (retrieval quality). Everything depends only on the seed and the options: the same call gives
// the same turns, byte for byte, on any platform (own PRNG, no <random> distributions).
//
// Vocabulary. 12 everyday topics (health, travel, cooking, work, finance, home, fitness, pets,
// entertainment, tech, family, car) of 12 to 14 noun CONCEPTS each, plus a few generic concepts
// (problem, friend, cheap, expensive, worried, ...). A concept is a synonym group of 2 to 4
// single words ("doctor, physician, gp, medic"; "flight, plane, airplane, aircraft"); no word
// belongs to two concepts. Filler words ("honestly", "next week", "remind me") belong to none.
//
// Sessions. Session s has one topic (drawn at random), min_turns..max_turns turns (20..40 by
// default), alternating user / assistant starting with the user, timestamps 45 s apart from a
// start of 2024-01-01 + s days + a random hour, metadata {"topic": <topic name>}. A regular turn
// is one of 16 sentence templates filled with 2 or 3 nouns of the topic (each as a random
// synonym), generic words and a time expression, usually followed by one or two short
// sentences and sometimes preceded by an opener: 60..280 bytes, mean ~165 (~150 with facts and
// distractors, which are shorter).
//
// Facts. facts_per_session user turns of each session are replaced by FACT turns. A fact has
// three key concepts of the session's topic (a triple no other fact uses), a form A (one
// synonym) for each, and an ANCHOR of one of five kinds, cycling: a person's name ("Priya
// Raman", 40 first x 40 last names, so first and last names recur across facts), a date
// ("January 18"), a rare made-up word ("Burtrisga", from syllables), a 4-digit number, a place
// ("Aldton", prefix x suffix); anchors are unique within the data set. The fact turn states
// the anchor with the three concepts in form A ("By the way, Kwame Kaminski is the person
// handling the diet, and she also knows about the gym and the jog.").
//
// Queries, two per fact, each with exactly one answer (the fact turn's id):
//   - lexical: names the anchor and the first key concept in form A ("Who is Kwame Kaminski
//     again, the one with the diet?");
//   - paraphrase: no anchor; the three key concepts, of which 0, 1 or 2 (cycling over the
//     facts, so a third each; Query::shared_concept_words) in form A and the others in another
//     synonym (form B), in a question frame that shares no content word with the fact's frame
//     ("Who takes care of my nutrition, the studio and run?": 0 shared).
// Distractors, distractors_per_fact (0..3) per fact, replace regular turns of OTHER sessions of
// the same topic (any other session when the topic has only one): the first and the third
// each hold two of the paraphrase query's three concept words exactly as the query has them,
// plus an unrelated concept of the topic ("The marathon and the stretching keep getting mixed
// up in my head, especially with the dip."); the second holds the lexical query's frame words
// and its form-A concept, without the anchor ("Who is dealing with the jog again? ..."). So a
// distractor shares as many or more words with its query than the answer does, except the
// anchor. With the default 3 they are about a fifth of the turns.
//
// Ids are "s<session>-t<turn>" (zero-padded), unique. Content is plain ASCII.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace convdata {

// SplitMix64: tiny, fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for 1 <= n < 2^32, from the high 32 bits (bias below n / 2^32).
  std::size_t below(std::size_t n) {
    return static_cast<std::size_t>(((next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }
  // Uniform in [lo, hi].
  std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  std::uint64_t state_;
};

// FNV-1a, for seeding per-text noise and feature hashing in the benchmarks.
inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xCBF29CE484222325ull) {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

// The synonym groups and the topics.
struct Vocabulary {
  std::vector<std::vector<std::string>> concepts;  // concept id -> its synonyms
  std::vector<std::size_t> concept_topic;          // concept id -> topic, or kGeneric
  std::vector<std::string> topic_names;
  std::vector<std::vector<std::size_t>> topic_nouns;  // topic -> its noun concepts
  std::unordered_map<std::string, std::size_t> word_concept;
  static constexpr std::size_t kGeneric = static_cast<std::size_t>(-1);

  // Generic concepts the templates use.
  std::size_t problem = 0, friend_ = 0, cheap = 0, expensive = 0, worried = 0, happy = 0, good = 0,
              bad = 0, quick = 0, slow = 0;

  // The concept of a lower-case word, or kGeneric when it is in no group.
  std::size_t concept_of(std::string_view word) const {
    const auto it = word_concept.find(std::string(word));
    return it == word_concept.end() ? kGeneric : it->second;
  }
};

inline const Vocabulary& vocabulary() {
  static const Vocabulary v = [] {
    Vocabulary voc;
    auto add = [&voc](std::size_t topic, std::vector<std::string> forms) {
      const std::size_t id = voc.concepts.size();
      for (const std::string& f : forms) {
        if (!voc.word_concept.emplace(f, id).second) {
          std::fprintf(stderr, "conversation_data: word '%s' is in two synonym groups\n",
                       f.c_str());
          std::abort();
        }
      }
      voc.concepts.push_back(std::move(forms));
      voc.concept_topic.push_back(topic);
      if (topic != Vocabulary::kGeneric) voc.topic_nouns[topic].push_back(id);
      return id;
    };
    auto topic = [&voc](std::string name) {
      voc.topic_names.push_back(std::move(name));
      voc.topic_nouns.emplace_back();
      return voc.topic_names.size() - 1;
    };
    std::size_t t = topic("health");
    add(t, {"doctor", "physician", "gp", "medic"});
    add(t, {"appointment", "consultation", "checkup"});
    add(t, {"medicine", "medication", "prescription", "pills"});
    add(t, {"stomach", "belly", "tummy", "gut"});
    add(t, {"tooth", "molar", "incisor"});
    add(t, {"pain", "ache", "soreness", "discomfort"});
    add(t, {"clinic", "infirmary", "practice"});
    add(t, {"bloodwork", "labwork", "screening"});
    add(t, {"insurance", "coverage", "policy"});
    add(t, {"pharmacy", "chemist", "drugstore"});
    add(t, {"spine", "backbone"});
    add(t, {"knee", "kneecap"});
    add(t, {"dentist", "orthodontist"});
    t = topic("travel");
    add(t, {"flight", "plane", "airplane", "aircraft"});
    add(t, {"hotel", "inn", "lodging", "accommodation"});
    add(t, {"trip", "journey", "vacation", "getaway"});
    add(t, {"luggage", "baggage", "suitcase"});
    add(t, {"passport", "visa"});
    add(t, {"airport", "terminal", "airfield"});
    add(t, {"ticket", "booking", "reservation"});
    add(t, {"beach", "seaside", "shore", "coast"});
    add(t, {"itinerary", "route", "directions"});
    add(t, {"train", "railway", "rail"});
    add(t, {"taxi", "cab", "rideshare"});
    add(t, {"delay", "holdup", "postponement"});
    add(t, {"downtown", "citycentre"});
    t = topic("cooking");
    add(t, {"recipe", "formula", "instructions"});
    add(t, {"dish", "meal", "course"});
    add(t, {"oven", "stove", "cooker"});
    add(t, {"pasta", "noodles", "spaghetti"});
    add(t, {"soup", "broth", "stew"});
    add(t, {"vegetables", "veggies", "greens"});
    add(t, {"sauce", "gravy", "dressing"});
    add(t, {"dinner", "supper"});
    add(t, {"groceries", "provisions", "produce"});
    add(t, {"kitchen", "galley", "scullery"});
    add(t, {"dessert", "pudding", "sweets"});
    add(t, {"restaurant", "bistro", "diner", "eatery"});
    add(t, {"spices", "seasoning", "herbs"});
    t = topic("work");
    add(t, {"job", "position", "post"});
    add(t, {"boss", "manager", "supervisor"});
    add(t, {"meeting", "standup", "sync"});
    add(t, {"deadline", "cutoff", "duedate"});
    add(t, {"project", "initiative", "assignment"});
    add(t, {"salary", "pay", "wage", "paycheck"});
    add(t, {"colleague", "coworker", "teammate"});
    add(t, {"report", "writeup", "summary"});
    add(t, {"interview", "audition"});
    add(t, {"promotion", "advancement"});
    add(t, {"office", "workplace", "headquarters"});
    add(t, {"email", "mail", "inbox"});
    add(t, {"contract", "agreement"});
    t = topic("finance");
    add(t, {"money", "cash", "funds"});
    add(t, {"bank", "lender"});
    add(t, {"loan", "mortgage", "borrowing"});
    add(t, {"savings", "nestegg", "reserve"});
    add(t, {"budget", "spending", "expenses"});
    add(t, {"bill", "invoice", "statement"});
    add(t, {"tax", "taxes", "levy"});
    add(t, {"investment", "stocks", "shares", "portfolio"});
    add(t, {"card", "creditcard"});
    add(t, {"debt", "arrears", "liability"});
    add(t, {"refund", "reimbursement", "rebate"});
    add(t, {"pension", "retirement"});
    t = topic("home");
    add(t, {"house", "home", "apartment", "residence"});
    add(t, {"repair", "fix", "mend"});
    add(t, {"leak", "drip", "seepage"});
    add(t, {"plumber", "pipefitter"});
    add(t, {"roof", "rooftop", "shingles"});
    add(t, {"rent", "lease", "tenancy"});
    add(t, {"landlord", "lessor", "proprietor"});
    add(t, {"furniture", "furnishings"});
    add(t, {"sofa", "couch", "settee"});
    add(t, {"heating", "boiler", "furnace", "radiator"});
    add(t, {"window", "pane", "glazing"});
    add(t, {"neighbor", "neighbour"});
    add(t, {"relocation", "moving"});
    t = topic("fitness");
    add(t, {"exercise", "workout", "training"});
    add(t, {"run", "jog", "sprint"});
    add(t, {"gym", "studio"});
    add(t, {"weight", "pounds", "kilos"});
    add(t, {"diet", "nutrition"});
    add(t, {"muscle", "brawn"});
    add(t, {"marathon", "race", "halfmarathon"});
    add(t, {"coach", "trainer", "instructor"});
    add(t, {"shoes", "sneakers", "footwear"});
    add(t, {"yoga", "stretching", "pilates"});
    add(t, {"bike", "bicycle", "cycle"});
    add(t, {"swim", "dip"});
    t = topic("pets");
    add(t, {"dog", "puppy", "pooch", "hound"});
    add(t, {"cat", "kitten", "kitty", "feline"});
    add(t, {"vet", "veterinarian"});
    add(t, {"kibble", "chow"});
    add(t, {"walk", "stroll", "outing"});
    add(t, {"leash", "tether"});
    add(t, {"toy", "chew", "plaything"});
    add(t, {"grooming", "brushing"});
    add(t, {"vaccine", "shot", "jab", "vaccination"});
    add(t, {"aquarium", "tank"});
    add(t, {"bird", "songbird"});
    add(t, {"sitter", "petsitter", "minder"});
    t = topic("entertainment");
    add(t, {"concert", "gig", "show", "performance"});
    add(t, {"band", "ensemble"});
    add(t, {"song", "track", "tune"});
    add(t, {"guitar", "ukulele"});
    add(t, {"movie", "film", "flick"});
    add(t, {"theater", "theatre", "cinema"});
    add(t, {"seats", "admission"});
    add(t, {"album", "record", "lp"});
    add(t, {"singer", "vocalist"});
    add(t, {"festival", "fair", "carnival"});
    add(t, {"lesson", "class", "tutorial"});
    add(t, {"piano", "keys"});
    t = topic("tech");
    add(t, {"phone", "mobile", "smartphone", "cellphone"});
    add(t, {"computer", "laptop", "pc"});
    add(t, {"password", "passcode", "pin"});
    add(t, {"internet", "wifi", "broadband", "connection"});
    add(t, {"update", "upgrade", "patch"});
    add(t, {"screen", "display", "monitor"});
    add(t, {"battery", "charger"});
    add(t, {"printer", "copier"});
    add(t, {"backup", "archive"});
    add(t, {"app", "application", "software", "program"});
    add(t, {"glitch", "bug", "freeze"});
    add(t, {"router", "modem"});
    t = topic("family");
    add(t, {"birthday", "bday"});
    add(t, {"party", "celebration", "gathering", "bash"});
    add(t, {"gift", "present"});
    add(t, {"wedding", "marriage", "nuptials"});
    add(t, {"kids", "children", "youngsters"});
    add(t, {"parents", "folks"});
    add(t, {"mother", "mom", "mum"});
    add(t, {"father", "dad"});
    add(t, {"sister", "sis"});
    add(t, {"grandmother", "grandma", "granny"});
    add(t, {"invitation", "invite"});
    add(t, {"cake", "gateau"});
    t = topic("car");
    add(t, {"car", "vehicle", "automobile"});
    add(t, {"mechanic", "garage", "repairman"});
    add(t, {"tire", "tyre", "wheel"});
    add(t, {"brakes", "braking"});
    add(t, {"fuel", "gas", "petrol", "gasoline"});
    add(t, {"license", "licence", "permit"});
    add(t, {"parking", "carpark"});
    add(t, {"engine", "motor"});
    add(t, {"oil", "lubricant"});
    add(t, {"accident", "collision", "wreck"});
    add(t, {"maintenance", "servicing", "tuneup"});
    add(t, {"dealership", "showroom"});
    const std::size_t g = Vocabulary::kGeneric;
    voc.problem = add(g, {"problem", "issue", "trouble"});
    voc.friend_ = add(g, {"friend", "buddy", "pal"});
    voc.cheap = add(g, {"cheap", "affordable", "inexpensive"});
    voc.expensive = add(g, {"expensive", "pricey", "costly"});
    voc.worried = add(g, {"worried", "anxious", "nervous"});
    voc.happy = add(g, {"happy", "glad", "pleased"});
    voc.good = add(g, {"good", "great", "excellent"});
    voc.bad = add(g, {"bad", "awful", "terrible"});
    voc.quick = add(g, {"quick", "fast", "rapid"});
    voc.slow = add(g, {"slow", "sluggish"});
    return voc;
  }();
  return v;
}

enum class AnchorKind { kName, kDate, kRareWord, kNumber, kPlace };
inline const char* anchor_kind_name(AnchorKind k) {
  switch (k) {
    case AnchorKind::kName:
      return "name";
    case AnchorKind::kDate:
      return "date";
    case AnchorKind::kRareWord:
      return "rare word";
    case AnchorKind::kNumber:
      return "number";
    case AnchorKind::kPlace:
      return "place";
  }
  return "?";
}

struct Turn {
  std::string id;
  std::string session_id;
  std::string role;
  std::string content;
  std::string topic;
  std::chrono::system_clock::time_point timestamp;
  enum class Kind { kRegular, kFact, kDistractor } kind = Kind::kRegular;
};

enum class QueryKind { kLexical, kParaphrase };
inline const char* query_kind_name(QueryKind k) {
  return k == QueryKind::kLexical ? "lexical" : "paraphrase";
}

struct Query {
  std::string text;
  QueryKind kind = QueryKind::kLexical;
  AnchorKind anchor = AnchorKind::kName;
  std::string answer_id;  // the one relevant turn
  // Content words shared with the answer besides the anchor: the key concepts the query names
  // in the fact's own synonym (lexical: 1; paraphrase: 0, 1 or 2).
  std::size_t shared_concept_words = 0;
};

struct GeneratorOptions {
  std::size_t sessions = 200;
  std::size_t min_turns = 20, max_turns = 40;
  std::size_t facts_per_session = 2;     // 0 = regular turns only (memory_bench)
  std::size_t distractors_per_fact = 3;  // 0..3
  std::uint64_t seed = 7;
};

struct Conversations {
  std::vector<Turn> turns;  // session by session, chronological
  std::vector<Query> queries;
  std::size_t sessions = 0, facts = 0, distractors = 0;
};

namespace internal {

inline std::string fill(std::string_view tmpl,
                        const std::unordered_map<std::string, std::string>& slots) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      const std::size_t close = tmpl.find('}', i);
      const std::string key(tmpl.substr(i + 1, close - i - 1));
      const auto it = slots.find(key);
      if (it == slots.end()) {
        std::fprintf(stderr, "conversation_data: no slot %s\n", key.c_str());
        std::abort();
      }
      out += it->second;
      i = close;
    } else {
      out += tmpl[i];
    }
  }
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

inline const std::vector<std::string>& times() {
  static const std::vector<std::string> v = {
      "tomorrow",    "next week",     "this weekend",        "on Monday",
      "later today", "before Friday", "in a couple of days", "after lunch",
      "next month",  "tonight",       "on Thursday",         "by the end of the week"};
  return v;
}

// Regular turns: {n1} {n2} {n3} topic nouns, {adj} {adj2} generic adjectives, {problem},
// {friend}, {time}.
inline const std::vector<std::string>& user_templates() {
  static const std::vector<std::string> v = {
      "I was thinking about the {n1} again, and honestly I am not sure the {n2} is worth it "
      "{time}.",
      "Can you help me figure out what to do with the {n1}? The {n2} has been a {problem} "
      "since last week.",
      "My {friend} keeps asking about the {n1}, so I guess we should sort out the {n2} {time}.",
      "Quick question: is it normal for the {n1} to take this long? I also need to check the "
      "{n2} and the {n3}.",
      "I just got back and the {n1} was {adj}, which made the whole {n2} thing feel {adj2}.",
      "Remind me to look into the {n1} and the {n2} {time}, I keep forgetting about it.",
      "What would you do about the {n1} if the {n2} was already {adj}?",
      "We talked about the {n1} last time, but I think the {n2} matters more right now.",
      "I am a bit {worried} about the {n1}. The {n2} was {adj} and I do not want another "
      "{problem} with the {n3}.",
  };
  return v;
}
inline const std::vector<std::string>& assistant_templates() {
  static const std::vector<std::string> v = {
      "That makes sense. If the {n1} is the main concern, start with the {n2} and see how it "
      "goes {time}.",
      "Here is a simple plan: first sort out the {n1}, then compare options for the {n2}, and "
      "keep a short list of questions.",
      "A lot of people run into the same {problem} with the {n1}. It usually helps to write "
      "down what happened with the {n2}.",
      "I would not worry too much about the {n1} yet. Let us check the {n2} first and decide "
      "{time}.",
      "Good idea. I can remind you about the {n1} {time}, and we can go over the {n2} "
      "together.",
      "It depends on the {n1}. If it is {adj}, the {n2} might be the better choice for now.",
      "Noted. The {n1} and the {n2} are on your list, and we can look at the {n3} {time}.",
  };
  return v;
}
inline const std::vector<std::string>& tails() {
  static const std::vector<std::string> v = {
      " Does that sound reasonable to you, or am I overthinking it?",
      " Thanks for listening, it helps to say it out loud.",
      " Let me know what you think about the {n3} when you have a minute.",
      " I will keep you posted once I hear back from them.",
      " Maybe my {friend} has an opinion on the {n3} as well, I should ask.",
      " It was {adj2} last time, to be fair, so who knows.",
      " Anyway, no rush, we can come back to it {time2}.",
      " Also, the {n3} still needs a look at some point."};
  return v;
}
inline const std::vector<std::string>& openers() {
  static const std::vector<std::string> v = {"Okay, so ",        "Honestly, ", "Hi again. ",
                                             "One more thing: ", "Right, ",    "So, "};
  return v;
}

inline const std::vector<std::string>& first_names() {
  static const std::vector<std::string> v = {
      "Priya",  "Mateo",   "Aisha",    "Lukas",  "Mei",   "Tomasz", "Ingrid", "Kwame",
      "Sofia",  "Hiroshi", "Fatima",   "Dmitri", "Amara", "Rafael", "Yuki",   "Siobhan",
      "Omar",   "Elena",   "Tariq",    "Freya",  "Jonas", "Leila",  "Bjorn",  "Nadia",
      "Kofi",   "Anika",   "Santiago", "Hana",   "Emeka", "Greta",  "Ravi",   "Camila",
      "Anders", "Zainab",  "Pavel",    "Ines",   "Chidi", "Astrid", "Malik",  "Noor"};
  return v;
}
inline const std::vector<std::string>& last_names() {
  static const std::vector<std::string> v = {
      "Raman",     "Okafor",  "Lindqvist", "Castellano", "Nakamura",  "Kowalski", "Haddad",
      "Brennan",   "Mensah",  "Petrova",   "Alvarado",   "Takeda",    "Osei",     "Fitzgerald",
      "Bergstrom", "Varga",   "Quispe",    "Abernathy",  "Delacroix", "Szabo",    "Iwasaki",
      "Moreau",    "Adeyemi", "Halvorsen", "Ferreira",   "Kaminski",  "Oyelaran", "Nguyen",
      "Eriksen",   "Zamora",  "Thorsen",   "Achebe",     "Markovic",  "Sorensen", "Balogun",
      "Dubois",    "Yilmaz",  "Hakimi",    "Lombardi",   "Ostrowski"};
  return v;
}
inline const std::vector<std::string>& months() {
  static const std::vector<std::string> v = {"January",   "February", "March",    "April",
                                             "May",       "June",     "July",     "August",
                                             "September", "October",  "November", "December"};
  return v;
}

// Fact frames by anchor kind: {a} anchor, {k0} {k1} {k2} key concepts. The lexical query
// names the anchor and k0; the paraphrase query frame shares no content word with the fact
// frame.
struct FactFrames {
  const char* fact;
  const char* lexical;
  const char* paraphrase;
  const char* lexical_distractor;  // the lexical query's frame words and k0, no anchor
};
inline const FactFrames& frames(AnchorKind k) {
  static const FactFrames name = {
      "By the way, {a} is the person handling the {k0}, and she also knows about the {k1} and "
      "the {k2}.",
      "Who is {a} again, the one with the {k0}?", "who takes care of my {k0}, the {k1} and {k2}?",
      "Who is dealing with the {k0} again? I forgot the one we talked to about the {x}."};
  static const FactFrames date = {
      "Please note that the {k0} for the {k1} is set for {a}, right after the {k2}.",
      "What is happening on {a} with the {k0}?",
      "when do the {k0} and {k1} take place, following the {k2}?",
      "Not sure what is happening with the {k0}, the {x} could change everything."};
  static const FactFrames rare = {
      "The {k0} we picked for the {k1} is called {a}, and it works with the {k2} too.",
      "What was {a} again, for the {k0}?",
      "which brand did we choose for the {k0} to go with the {k1} and the {k2}?",
      "What was the {k0} again? I remember the {x} but not the rest."};
  static const FactFrames number = {
      "The reference number for the {k0} and the {k1} is {a}, in case the {k2} comes up.",
      "Which {k0} has the reference number {a}?",
      "what code did I get about the {k0}, {k1} and {k2}?",
      "Which {k0} was it, the one with a reference number? The {x} did not have one."};
  static const FactFrames place = {
      "We decided the {k0} and the {k1} will happen in {a}, close to the {k2}.",
      "What is going on in {a} with the {k0}?",
      "where are the {k0} and the {k1} going to be, near which {k2}?",
      "What is going on with the {k0}? Nobody told me where the {x} is going to be."};
  switch (k) {
    case AnchorKind::kName:
      return name;
    case AnchorKind::kDate:
      return date;
    case AnchorKind::kRareWord:
      return rare;
    case AnchorKind::kNumber:
      return number;
    case AnchorKind::kPlace:
      return place;
  }
  return name;
}

inline const std::vector<std::string>& distractor_frames() {
  static const std::vector<std::string> v = {
      "Remember the {d0} and the {d1}? It came up again, but nothing was decided about the "
      "{d2} yet.",
      "I read something about the {d0} and the {d1} today, and it reminded me of the {d2}.",
      "The {d0} and the {d1} keep getting mixed up in my head, especially with the {d2}."};
  return v;
}

inline std::string pseudo_word(Rng& rng) {
  static const std::vector<std::string> on = {"b",  "d",  "f",  "g",  "k",  "l",  "m",
                                              "n",  "p",  "r",  "s",  "t",  "v",  "z",
                                              "br", "tr", "kl", "gr", "st", "pl", "dr"};
  static const std::vector<std::string> nu = {"a", "e", "i", "o", "u", "ai", "ou", "ei"};
  static const std::vector<std::string> co = {"", "", "n", "r", "l", "s", "k", "x"};
  std::string w;
  const std::size_t syllables = rng.between(2, 3);
  for (std::size_t i = 0; i < syllables; ++i) w += rng.pick(on) + rng.pick(nu) + rng.pick(co);
  w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
  return w;
}

inline std::string place_name(Rng& rng) {
  static const std::vector<std::string> pre = {
      "Ash",  "Bel",  "Brack", "Cal",  "Dun", "Elm", "Fen",  "Glen",  "Hal", "Kil",
      "Lang", "Mar",  "Nor",   "Oak",  "Pem", "Rav", "Sel",  "Thorn", "Wex", "Yar",
      "Ald",  "Brim", "Cor",   "Dray", "Ev",  "Fal", "Gret", "Hol",   "Ire", "Lind"};
  static const std::vector<std::string> suf = {"ford",  "wick",  "by",      "ton",   "mere",
                                               "field", "haven", "stead",   "worth", "bury",
                                               "dale",  "holm",  "minster", "port",  "well"};
  return rng.pick(pre) + rng.pick(suf);
}

}  // namespace internal

// Builds the data set described at the top of this file.
inline Conversations generate(const GeneratorOptions& o) {
  using internal::fill;
  const Vocabulary& voc = vocabulary();
  Rng rng(o.seed * 0x9E3779B97F4A7C15ull + 1);
  Conversations out;
  out.sessions = o.sessions;
  const std::size_t n_topics = voc.topic_names.size();
  auto form = [&](std::size_t concept_id) -> const std::string& {
    return rng.pick(voc.concepts[concept_id]);
  };
  auto generic = [&](std::size_t concept_id) { return form(concept_id); };
  auto adjective = [&]() {
    static const std::size_t* kAdj[] = {&voc.cheap, &voc.expensive, &voc.good,
                                        &voc.bad,   &voc.quick,     &voc.slow};
    return generic(*kAdj[rng.below(6)]);
  };
  // Three distinct nouns of the topic, in random forms.
  auto nouns = [&](std::size_t topic, std::size_t count) {
    std::vector<std::size_t> ids = voc.topic_nouns[topic];
    for (std::size_t i = 0; i < count; ++i) std::swap(ids[i], ids[i + rng.below(ids.size() - i)]);
    ids.resize(count);
    return ids;
  };
  auto regular = [&](std::size_t topic, bool user) {
    const auto n = nouns(topic, 3);
    std::unordered_map<std::string, std::string> s = {{"n1", form(n[0])},
                                                      {"n2", form(n[1])},
                                                      {"n3", form(n[2])},
                                                      {"adj", adjective()},
                                                      {"adj2", adjective()},
                                                      {"problem", generic(voc.problem)},
                                                      {"friend", generic(voc.friend_)},
                                                      {"worried", generic(voc.worried)},
                                                      {"time", rng.pick(internal::times())},
                                                      {"time2", rng.pick(internal::times())}};
    std::string text =
        rng.pick(user ? internal::user_templates() : internal::assistant_templates());
    const auto& tails = internal::tails();
    if (rng.chance(0.85)) {
      const std::size_t first = rng.below(tails.size());
      text += tails[first];
      if (rng.chance(0.4)) text += tails[(first + 1 + rng.below(tails.size() - 1)) % tails.size()];
    }
    if (rng.chance(0.3)) {
      const std::string& opener = rng.pick(internal::openers());
      // Lower-case the template's first letter after "Okay, so " or "Right, " (not "I").
      if (opener.ends_with(", ") || opener.ends_with("so ")) {
        if (!text.starts_with("I ")) {
          text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
        }
      }
      text = opener + text;
    }
    return fill(text, s);
  };

  // Sessions of regular turns first.
  const auto base = std::chrono::system_clock::time_point{} + std::chrono::seconds(1704067200);
  std::vector<std::size_t> session_topic(o.sessions);
  std::vector<std::size_t> session_begin(o.sessions + 1, 0);
  std::vector<std::vector<std::size_t>> topic_sessions(n_topics);
  char buf[64];
  for (std::size_t s = 0; s < o.sessions; ++s) {
    const std::size_t topic = rng.below(n_topics);
    session_topic[s] = topic;
    topic_sessions[topic].push_back(s);
    const std::size_t n_turns = rng.between(o.min_turns, o.max_turns);
    std::snprintf(buf, sizeof buf, "session-%05zu", s);
    const std::string session_id = buf;
    const auto start = base + std::chrono::hours(24 * s + rng.below(14) + 8);
    session_begin[s] = out.turns.size();
    for (std::size_t t = 0; t < n_turns; ++t) {
      Turn turn;
      std::snprintf(buf, sizeof buf, "s%05zu-t%02zu", s, t);
      turn.id = buf;
      turn.session_id = session_id;
      turn.role = t % 2 == 0 ? "user" : "assistant";
      turn.topic = voc.topic_names[topic];
      turn.timestamp = start + std::chrono::seconds(45 * t);
      turn.content = regular(topic, t % 2 == 0);
      out.turns.push_back(std::move(turn));
    }
  }
  session_begin[o.sessions] = out.turns.size();

  // Facts, their queries and distractors.
  std::set<std::vector<std::size_t>> used_triples;
  std::set<std::string> used_anchors;
  std::vector<bool> replaced(out.turns.size(), false);
  std::size_t fact_no = 0;
  // A regular turn of session s not yet replaced (user turns only when user_only), or npos.
  auto free_turn = [&](std::size_t s, bool user_only) {
    const std::size_t b = session_begin[s], e = session_begin[s + 1];
    for (int attempt = 0; attempt < 64; ++attempt) {
      const std::size_t i = b + rng.below(e - b);
      if (!replaced[i] && (!user_only || (i - b) % 2 == 0)) return i;
    }
    for (std::size_t i = b; i < e; ++i) {
      if (!replaced[i] && (!user_only || (i - b) % 2 == 0)) return i;
    }
    return static_cast<std::size_t>(-1);
  };
  for (std::size_t s = 0; s < o.sessions; ++s) {
    const std::size_t topic = session_topic[s];
    for (std::size_t f = 0; f < o.facts_per_session; ++f) {
      const std::size_t at = free_turn(s, true);
      if (at == static_cast<std::size_t>(-1)) break;
      std::vector<std::size_t> key;
      for (int attempt = 0; attempt < 1000; ++attempt) {
        key = nouns(topic, 3);
        std::vector<std::size_t> sorted = key;
        std::sort(sorted.begin(), sorted.end());
        if (used_triples.insert(sorted).second) break;
      }
      const auto kind = static_cast<AnchorKind>(fact_no % 5);
      std::string anchor;
      for (int attempt = 0; attempt < 100000; ++attempt) {
        switch (kind) {
          case AnchorKind::kName:
            anchor = rng.pick(internal::first_names()) + " " + rng.pick(internal::last_names());
            break;
          case AnchorKind::kDate:
            anchor = rng.pick(internal::months()) + " " + std::to_string(rng.between(1, 28));
            break;
          case AnchorKind::kRareWord:
            anchor = internal::pseudo_word(rng);
            break;
          case AnchorKind::kNumber:
            anchor = std::to_string(rng.between(1000, 9999));
            break;
          case AnchorKind::kPlace:
            anchor = internal::place_name(rng);
            break;
        }
        std::string lower = anchor;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (voc.word_concept.count(lower) == 0 && used_anchors.insert(anchor).second) break;
      }
      // Form A (in the fact) and form B (another synonym) of each key concept.
      std::vector<std::string> a(3), b(3);
      for (std::size_t i = 0; i < 3; ++i) {
        const auto& forms = voc.concepts[key[i]];
        const std::size_t ia = rng.below(forms.size());
        const std::size_t ib = (ia + 1 + rng.below(forms.size() - 1)) % forms.size();
        a[i] = forms[ia];
        b[i] = forms[ib];
      }
      // The paraphrase keeps 0, 1 or 2 of the key concepts (cycling) in form A.
      const std::size_t kept = fact_no % 3;
      std::vector<std::size_t> order = {0, 1, 2};
      for (std::size_t i = 0; i < 2; ++i) std::swap(order[i], order[i + rng.below(3 - i)]);
      std::vector<std::string> p = b;
      for (std::size_t i = 0; i < kept; ++i) p[order[i]] = a[order[i]];
      const internal::FactFrames& fr = internal::frames(kind);
      Turn& turn = out.turns[at];
      turn.content = fill(fr.fact, {{"a", anchor}, {"k0", a[0]}, {"k1", a[1]}, {"k2", a[2]}});
      turn.kind = Turn::Kind::kFact;
      replaced[at] = true;
      out.queries.push_back(
          {fill(fr.lexical, {{"a", anchor}, {"k0", a[0]}}), QueryKind::kLexical, kind, turn.id, 1});
      out.queries.push_back({fill(fr.paraphrase, {{"k0", p[0]}, {"k1", p[1]}, {"k2", p[2]}}),
                             QueryKind::kParaphrase, kind, turn.id, kept});
      ++out.facts;
      ++fact_no;

      // Distractors in other sessions of the topic.
      const auto& same = topic_sessions[topic];
      const std::size_t pair_skip = rng.below(3);
      for (std::size_t d = 0; d < std::min<std::size_t>(o.distractors_per_fact, 3); ++d) {
        std::size_t other = s;
        for (int attempt = 0; attempt < 16 && other == s; ++attempt) {
          other = same.size() > 1 ? rng.pick(same) : rng.below(o.sessions);
        }
        if (other == s && o.sessions > 1) other = (s + 1) % o.sessions;
        const std::size_t slot = free_turn(other, false);
        if (slot == static_cast<std::size_t>(-1)) continue;
        // An unrelated concept of the fact's topic.
        std::size_t unrelated = key[0];
        while (std::find(key.begin(), key.end(), unrelated) != key.end()) {
          unrelated = rng.pick(voc.topic_nouns[topic]);
        }
        std::string text;
        if (d != 1) {  // two of the paraphrase's concept words, as the query has them
          const std::size_t skip = (pair_skip + d / 2) % 3;
          std::vector<std::string> two;
          for (std::size_t i = 0; i < 3; ++i) {
            if (i != skip) two.push_back(p[i]);
          }
          text = fill(rng.pick(internal::distractor_frames()),
                      {{"d0", two[0]}, {"d1", two[1]}, {"d2", form(unrelated)}});
        } else {
          text = fill(fr.lexical_distractor, {{"k0", a[0]}, {"x", form(unrelated)}});
        }
        out.turns[slot].content = std::move(text);
        out.turns[slot].kind = Turn::Kind::kDistractor;
        replaced[slot] = true;
        ++out.distractors;
      }
    }
  }
  return out;
}

// Question-like texts over the vocabulary (for memory_bench's searches), distinct from each
// other; the caller checks them against the entries.
inline std::vector<std::string> question_texts(std::size_t n, std::uint64_t seed) {
  const Vocabulary& voc = vocabulary();
  static const std::vector<std::string> frames = {
      "what did we decide about the {a} and the {b}?",
      "remind me what you said about the {a}, the {b} and the {c}",
      "is there anything new on the {a} since we discussed the {b}?",
      "how did the {a} go, and should I still worry about the {b}?",
      "summarise what I told you about my {a} and {b} {time}",
      "did I mention a {c} when we talked about the {a}?"};
  Rng rng(seed * 0xD1B54A32D192ED03ull + 5);
  std::set<std::string> seen;
  std::vector<std::string> out;
  while (out.size() < n) {
    const std::size_t topic = rng.below(voc.topic_names.size());
    const auto& ids = voc.topic_nouns[topic];
    auto w = [&] { return rng.pick(voc.concepts[rng.pick(ids)]); };
    std::string q =
        internal::fill(rng.pick(frames),
                       {{"a", w()}, {"b", w()}, {"c", w()}, {"time", rng.pick(internal::times())}});
    if (seen.insert(q).second) out.push_back(std::move(q));
  }
  return out;
}

}  // namespace convdata
