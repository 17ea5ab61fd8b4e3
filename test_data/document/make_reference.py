"""Reference values for the document engine: a seeded random sequence of
writes, queries, updates and pipelines run against mongomock (an
independent implementation of MongoDB's semantics in Python), written as
steps with their expected answers to reference.json.

The Rust tests replay every step against the engine (natively over the
SDK's recording host, and over REST against the real server) and compare
answers: documents structurally (numbers by value), distinct values as
sets. Everything here is something mongomock implements; what it lacks
(full-text search, change streams, JSONPath, explain) is checked by
hand-written expectations in the Rust tests instead.

    python3 test_data/document/make_reference.py   # rewrites reference.json
"""

import json
import random
from pathlib import Path

import mongomock

SEED = 20261201
NAMES = ["ada", "Alan", "grace", "Barbara", "edsger", "Donald", "linus", "Ken", "dennis", "Niklaus"]
CITIES = ["Paris", "Oslo", "Lima", "Kyoto", "Accra"]
TAGS = ["red", "green", "blue", "gold", "grey"]
SKUS = ["a1", "b2", "c3", "d4"]


def document(rng, i):
    doc = {"_id": i, "name": rng.choice(NAMES)}
    r = rng.random()
    if r < 0.75:
        doc["age"] = rng.randint(18, 80)
    elif r < 0.85:
        doc["age"] = None
    elif r < 0.92:
        doc["age"] = str(rng.randint(18, 80))
    # else: no age at all
    doc["score"] = round(rng.uniform(0, 100), 2)
    doc["tags"] = rng.sample(TAGS, rng.randint(0, 3))
    if rng.random() < 0.9:
        doc["address"] = {"city": rng.choice(CITIES), "zip": rng.randint(1000, 9999)}
    doc["items"] = [{"sku": rng.choice(SKUS), "qty": rng.randint(1, 9)} for _ in range(rng.randint(0, 3))]
    doc["active"] = rng.random() < 0.6
    return doc


def random_condition(rng):
    kind = rng.randrange(22)
    if kind == 0:
        return {"name": rng.choice(NAMES)}
    if kind == 1:
        return {"age": {rng.choice(["$gt", "$gte", "$lt", "$lte"]): rng.randint(20, 75)}}
    if kind == 2:
        lo = rng.randint(18, 60)
        return {"age": {"$gte": lo, "$lt": lo + rng.randint(1, 20)}}
    if kind == 3:
        return {"tags": rng.choice(TAGS)}
    if kind == 4:
        return {"tags": {"$all": rng.sample(TAGS, 2)}}
    if kind == 5:
        return {"tags": {"$size": rng.randint(0, 3)}}
    if kind == 6:
        return {"address.city": {"$in": rng.sample(CITIES, 2)}}
    if kind == 7:
        return {"address.city": {"$nin": rng.sample(CITIES, 2)}}
    if kind == 8:
        return {"age": None}
    if kind == 9:
        return {"age": {"$exists": rng.random() < 0.5}}
    if kind == 10:
        return {"age": {"$type": rng.choice(["string", "int", "null", "number"])}}
    if kind == 11:
        return {"name": {"$regex": "^" + rng.choice("aAbBdDeEgGkKlL"), "$options": rng.choice(["", "i"])}}
    if kind == 12:
        return {"items": {"$elemMatch": {"sku": rng.choice(SKUS), "qty": {"$gte": rng.randint(1, 9)}}}}
    if kind == 13:
        return {"items.qty": {"$gt": rng.randint(1, 8)}}
    if kind == 14:
        return {"$or": [random_condition(rng), random_condition(rng)]}
    if kind == 15:
        return {"$and": [random_condition(rng), random_condition(rng)]}
    if kind == 16:
        return {"$nor": [random_condition(rng)]}
    if kind == 17:
        return {"score": {"$not": {"$gt": rng.randint(10, 90)}}}
    if kind == 18:
        return {"active": rng.random() < 0.5, "score": {"$lt": rng.randint(20, 100)}}
    if kind == 19:
        return {"age": {"$ne": rng.randint(18, 80)}}
    if kind == 20:
        return {"items.sku": rng.choice(SKUS)}
    return {"address": {"$exists": False}}


def condition_for(rng, people):
    """A random condition mongomock can evaluate (it lacks some $type
    names); those it cannot are drawn again."""
    while True:
        condition = random_condition(rng)
        try:
            list(people.find(condition))
            return condition
        except NotImplementedError:
            continue


def random_update(rng):
    kind = rng.randrange(12)
    if kind == 0:
        return {"$set": {"status": rng.choice(["new", "seen", "done"]), "address.city": rng.choice(CITIES)}}
    if kind == 1:
        return {"$inc": {"score": rng.randint(-5, 5), "visits": 1}}
    if kind == 2:
        return {"$push": {"tags": rng.choice(TAGS)}}
    if kind == 3:
        return {"$addToSet": {"tags": {"$each": rng.sample(TAGS, 2)}}}
    if kind == 4:
        return {"$pull": {"tags": rng.choice(TAGS)}}
    if kind == 5:
        return {"$unset": {"address": ""}}
    if kind == 6:
        return {"$rename": {"status": "state"}}
    if kind == 7:
        return {"$min": {"score": rng.randint(0, 50)}}
    if kind == 8:
        return {"$max": {"score": rng.randint(50, 100)}}
    if kind == 9:
        return {"$pop": {"items": rng.choice([1, -1])}}
    if kind == 10:
        return {"$push": {"items": {"$each": [{"sku": rng.choice(SKUS), "qty": rng.randint(1, 9)}], "$slice": -2}}}
    return {"$pull": {"items": {"qty": {"$lte": rng.randint(1, 5)}}}}


PIPELINES = [
    [{"$match": {"active": True}}, {"$group": {"_id": "$address.city", "n": {"$sum": 1}, "avg": {"$avg": "$score"},
                                                  "lo": {"$min": "$score"}, "hi": {"$max": "$score"}}}, {"$sort": {"_id": 1}}],
    [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "count": {"$sum": 1}}}, {"$sort": {"count": -1, "_id": 1}}],
    [{"$unwind": {"path": "$items"}}, {"$group": {"_id": "$items.sku", "qty": {"$sum": "$items.qty"},
                                                  "docs": {"$addToSet": "$_id"}}}, {"$sort": {"_id": 1}},
     {"$project": {"qty": 1, "ndocs": {"$size": "$docs"}}}],
    [{"$match": {"age": {"$type": "int"}}}, {"$bucket": {"groupBy": "$age", "boundaries": [18, 30, 45, 60, 81],
                                                        "output": {"n": {"$sum": 1}, "names": {"$push": "$name"}}}}],
    [{"$sort": {"score": -1, "_id": 1}}, {"$limit": 5}, {"$project": {"_id": 1, "name": 1, "score": 1,
                                                                        "double": {"$multiply": ["$score", 2]}}}],
    [{"$match": {"score": {"$gte": 50}}}, {"$count": "high"}],
    [{"$facet": {"cities": [{"$group": {"_id": "$address.city", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}],
                 "top": [{"$sort": {"score": -1, "_id": 1}}, {"$limit": 3}, {"$project": {"_id": 1}}]}}],
    [{"$match": {"_id": {"$lte": 20}}}, {"$lookup": {"from": "owners", "localField": "name", "foreignField": "name",
                                                      "as": "owner"}},
     {"$project": {"_id": 1, "owner.team": 1}}, {"$sort": {"_id": 1}}],
    [{"$addFields": {"ntags": {"$size": {"$ifNull": ["$tags", []]}}, "upper": {"$toUpper": "$name"}}}, {"$match": {"ntags": {"$gte": 2}}},
     {"$project": {"_id": 1, "upper": 1, "ntags": 1}}, {"$sort": {"_id": 1}}],
    [{"$sort": {"_id": 1}}, {"$group": {"_id": "$active", "first": {"$first": "$name"}, "last": {"$last": "$name"},
                                         "names": {"$push": "$name"}}}, {"$sort": {"_id": 1}}],
    [{"$match": {"address": {"$exists": True}}}, {"$replaceRoot": {"newRoot": "$address"}}, {"$sort": {"zip": 1}},
     {"$limit": 4}],
    [{"$project": {"_id": 1, "label": {"$cond": [{"$gte": ["$score", 50]}, "high", "low"]},
                   "city": {"$ifNull": ["$address.city", "nowhere"]}}}, {"$sort": {"_id": 1}}, {"$limit": 10}],
]


def main():
    rng = random.Random(SEED)
    client = mongomock.MongoClient()
    db = client["ref"]
    people = db["people"]
    steps = []

    def record(op, params, expect):
        steps.append({"op": op, "params": params, "expect": expect})

    def check_state():
        docs = list(people.find({}, sort=[("_id", 1)]))
        record("find", {"collection": "people", "filter": {}, "sort": {"_id": 1}}, {"documents": docs})

    owners = [{"_id": i, "name": n, "team": rng.choice(["core", "web", "ops"])} for i, n in enumerate(NAMES[:6])]
    db["owners"].insert_many([dict(o) for o in owners])
    record("insert", {"collection": "owners", "documents": owners}, {"inserted_ids": [o["_id"] for o in owners]})

    docs = [document(rng, i) for i in range(1, 151)]
    people.insert_many([json.loads(json.dumps(d)) for d in docs])
    record("insert", {"collection": "people", "documents": docs}, {"inserted_ids": [d["_id"] for d in docs]})

    upserts = 0
    for round_ in range(60):
        kind = rng.randrange(10)
        if kind <= 3:
            condition = condition_for(rng, people)
            params = {"collection": "people", "filter": condition, "sort": {"_id": 1}}
            cursor = people.find(condition, sort=[("_id", 1)])
            if rng.random() < 0.3:
                projection = rng.choice([{"name": 1, "age": 1}, {"items": 0, "tags": 0}, {"_id": 0, "address.city": 1},
                                         {"tags": {"$slice": 1}, "name": 1}])
                params["projection"] = projection
                cursor = people.find(condition, projection, sort=[("_id", 1)])
            if rng.random() < 0.3:
                params["skip"] = rng.randint(0, 5)
                params["limit"] = rng.randint(1, 10)
                cursor = cursor.skip(params["skip"]).limit(params["limit"])
            record("find", params, {"documents": list(cursor)})
        elif kind == 4:
            condition = condition_for(rng, people)
            record("count", {"collection": "people", "filter": condition},
                   {"count": people.count_documents(condition)})
            field = rng.choice(["name", "tags", "address.city", "items.sku"])
            values = people.distinct(field, condition)
            record("distinct", {"collection": "people", "field": field, "filter": condition}, {"values": values})
        elif kind <= 7:
            condition = condition_for(rng, people)
            update = random_update(rng)
            if "$pop" in update or "$pull" in update:
                # mongomock raises on $pop/$pull of a missing field (MongoDB
                # does nothing): keep those to documents that have it.
                field = next(iter(next(iter(update.values()))))
                condition = {"$and": [condition, {field: {"$exists": True}}]}
            multi = rng.random() < 0.7
            result = (people.update_many if multi else people.update_one)(condition, update)
            record("update", {"collection": "people", "filter": condition, "update": update, "multi": multi},
                   {"matched": result.matched_count, "modified": result.modified_count, "upserted_id": None})
            check_state()
        elif kind == 8:
            upserts += 1
            condition = {"_id": 1000 + upserts, "name": rng.choice(NAMES)}
            update = {"$set": {"score": rng.randint(0, 100)}, "$inc": {"visits": 1}}
            result = people.update_one(condition, update, upsert=True)
            record("update", {"collection": "people", "filter": condition, "update": update, "upsert": True},
                   {"matched": result.matched_count, "modified": result.modified_count,
                    "upserted_id": result.upserted_id})
        else:
            condition = condition_for(rng, people)
            multi = rng.random() < 0.3
            result = (people.delete_many if multi else people.delete_one)(condition)
            record("delete", {"collection": "people", "filter": condition, "multi": multi},
                   {"deleted": result.deleted_count})
            check_state()
        if round_ % 12 == 11:
            for pipeline in PIPELINES:
                record("aggregate", {"collection": "people", "pipeline": pipeline},
                       {"documents": list(people.aggregate(pipeline))})
    check_state()

    out = Path(__file__).with_name("reference.json")
    out.write_text(json.dumps({"generator": "test_data/document/make_reference.py", "seed": SEED,
                               "mongomock": mongomock.__version__, "steps": steps}, indent=1) + "\n")
    print(f"{len(steps)} steps -> {out}")


if __name__ == "__main__":
    main()
