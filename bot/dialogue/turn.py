"""One user turn: decide what the user is doing (answering a choice, asking, correcting, repeating,
cancelling, or something not understood) and produce the reply and the state for the next turn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from bot.accounts.views import AccountView, Denial, normalize_contract_number
from bot.answers.billing import card_data_warning
from bot.answers.dispatch import ACCOUNT_INTENTS, answer, topic_for
from bot.answers.question import Question
from bot.answers.recommend import parse_needs
from bot.answers.reply import Context, Reply, single
from bot.catalogue.models import Catalogue
from bot.dialogue import choice, moves
from bot.dialogue.clarify import OUT_OF_SCOPE, clarification, fallback_reply, nothing_to_choose
from bot.dialogue.options import Option
from bot.dialogue.state import Asked, DialogueState, Pending
from bot.nlu.resolve import Mentions, Resolver
from bot.privacy.redact import mentions_card_data

AccountLoader = Callable[[], Awaitable[tuple[AccountView | None, Denial | None]]]

# Intents whose answer needs one contract: a contract number or "el otro" re-asks them for it.
CONTRACT_INTENTS = frozenset({"ask_contract_status", "ask_financial_info", "ask_invoice"})
# Intents the NLU gives to short messages it has no better name for: the words decide instead.
_WEAK = frozenset(
    {
        "nlu_fallback",
        "choose_option",
        "inform_contract_number",
        "share_card_data",
        "out_of_scope",
        "follow_up",
    }
)
REOFFER_LEAD = "Sobre tu pregunta anterior: "


@dataclass(frozen=True)
class Turn:
    """One user message as the NLU read it, and where it stands in the conversation."""

    text: str
    intent: str
    entities: Sequence[Mapping[str, Any]] = ()
    ranking: Sequence[tuple[str, float]] = ()
    number: int = 1
    context: Context = field(default_factory=Context)
    today: date = field(default_factory=date.today)

    @property
    def is_payload(self) -> bool:
        """A button's payload ('/ask_invoice{…}'): the choice is exact."""
        return self.text.startswith("/")


@dataclass(frozen=True)
class Outcome:
    """What to say (a reply, or a domain response by name), the next state, and a hand-off if one is due."""

    reply: Reply
    state: DialogueState
    handoff: str | None = None
    response: str | None = None
    # What the turn was, for the record: the intent acted on (None: the NLU's), whether the assistant
    # understood it (False: the fallback, a clarification between two readings, the hand-off after two
    # in a row), the catalogue plans it was about.
    intent: str | None = None
    understood: bool = True
    plans: tuple[str, ...] = ()


class Dialogue:
    """Conversation repair over the answers, for one catalogue and one user's account."""

    def __init__(self, catalogue: Catalogue, resolver: Resolver, load_account: AccountLoader) -> None:
        self.catalogue = catalogue
        self.resolver = resolver
        self.load_account = load_account

    async def respond(self, turn: Turn, state: DialogueState) -> Outcome:
        """The reply to one turn and the state after it."""
        outcome = await self._respond(turn, state)
        return outcome if outcome.intent is not None else replace(outcome, intent=turn.intent)

    async def _respond(self, turn: Turn, state: DialogueState) -> Outcome:
        text, intent = turn.text, turn.intent
        if turn.is_payload:
            return await self._ask(self._asked(turn), turn, state)
        if intent == "cancel" or moves.is_cancel(text):
            return self._cancel(state)
        if state.pending is not None and not mentions_card_data(text):
            # "2", "el suspendido" — or, after a slip, "perdón, el segundo".
            for words in dict.fromkeys((text, moves.strip_slip(text))):
                picked = choice.resolve_choice(words, state.pending.options, self.resolver)
                if picked is not None:
                    return await self._choice(picked, state.pending, turn, state)
        named = self.resolver.mentions(turn.entities, text)
        if intent == "repeat" or (intent != "correct" and moves.is_repeat(text) and not topic_for(named)):
            return await self._repeat(turn, state)
        if intent == "correct" or (state.last is not None and moves.is_correction(text)):
            return await self._correct(turn, state)
        if intent in _WEAK and moves.is_acknowledgement(text):
            return Outcome(Reply(()), state, response="utter_acknowledge", intent="acknowledge")
        if _awaits_needs(state.last, turn.context) and not parse_needs(_as_needs(text), ()).empty():
            return await self._ask(Asked("recommend_plan", _as_needs(text), named), turn, state)
        number = normalize_contract_number(text)
        if number is not None and (intent in _WEAK or choice.only_contract_number(text)):
            return await self._contract_number(number, turn, state)
        if _only_digits(text) and not mentions_card_data(text):
            # A bare number with no options to pick from (never the card warning for it).
            return Outcome(nothing_to_choose(text), state, intent="choose_option")
        if intent == "share_card_data" and not mentions_card_data(text):
            intent = "nlu_fallback"
        if intent in ("choose_option", "inform_contract_number"):
            if topic_for(named) is not None:
                return await self._ask(Asked("follow_up", text, named), turn, state)
            # Nothing to choose from: a bare "el segundo" says so; a longer message is read as the NLU's
            # next likeliest question ("tengo el contrato suspendido o qué?").
            runner_up = _runner_up(turn.ranking)
            if runner_up is None or moves.words(text) <= 3:
                return Outcome(nothing_to_choose(text), state, intent="choose_option")
            intent = runner_up
            turn = replace(turn, intent=runner_up)
        if intent in ("nlu_fallback", "out_of_scope"):
            return await self._not_understood(turn, state, out_of_scope=intent == "out_of_scope")
        return await self._ask(self._asked(turn), turn, state)

    # --- moves ------------------------------------------------------------------------------------------
    def _asked(self, turn: Turn) -> Asked:
        mentions = self.resolver.mentions(turn.entities, turn.text)
        contract = _contract_entity(turn.entities) or normalize_contract_number(turn.text)
        return Asked(turn.intent, turn.text, mentions, contract)

    async def _ask(self, asked: Asked, turn: Turn, state: DialogueState, reoffer: bool = True) -> Outcome:
        """Answer a question; a choice left waiting by an earlier question is offered once more after it."""
        reply = await self._answer(asked, turn)
        if mentions_card_data(turn.text) and asked.intent != "share_card_data":
            warning = card_data_warning(self.catalogue, Question("share_card_data")).messages
            reply = replace(reply, messages=(*warning, *reply.messages))
        remembered = _remembered(asked, reply)
        pending = _offered(remembered, reply)
        earlier = state.pending
        if (
            pending is None
            and reoffer
            and earlier is not None
            and earlier.awaiting
            and not earlier.reoffered
            and earlier.asked.intent != asked.intent
        ):
            again = await self._answer(earlier.asked, turn)
            if again.messages and any(m.buttons for m in again.messages):
                first, *rest = again.messages
                lead = replace(first, text=REOFFER_LEAD + _lower_first_letter(first.text))
                reply = replace(reply, messages=(*reply.messages, lead, *rest))
                pending = replace(earlier, reoffered=True)
        return Outcome(
            reply,
            replace(state, pending=pending, last=remembered),
            intent=remembered.intent,
            plans=_plans_of(remembered, reply),
        )

    async def _answer(self, asked: Asked, turn: Turn) -> Reply:
        question = Question(
            intent=asked.intent,
            text=asked.text,
            mentions=asked.mentions,
            context=turn.context,
            contract_number=asked.contract,
            today=turn.today,
        )
        if asked.intent in ACCOUNT_INTENTS:
            account, denial = await self.load_account()
            question = replace(question, account=account, denial=denial)
        return answer(self.catalogue, question)

    async def _choice(
        self, picked: choice.Resolution, pending: Pending, turn: Turn, state: DialogueState
    ) -> Outcome:
        options = pending.options
        if isinstance(picked, choice.Picked):
            return await self._pick(options[picked.index], pending, turn, state)
        if isinstance(picked, choice.Narrowed):
            narrowed = tuple(options[i] for i in picked.indices)
            reply = single(
                "Varias opciones coinciden. ¿Cuál de estas?",
                buttons=tuple(o.button() for o in narrowed),
                awaiting=True,
            )
            narrowed_state = replace(state, pending=replace(pending, options=narrowed, awaiting=True))
            return Outcome(reply, narrowed_state, intent="choose_option")
        said = picked.said
        shown = said if said.startswith("ZCC-") else f"«{said}»"
        where = (
            "entre los contratos de tu cuenta"
            if any("contract_number" in o.entities for o in options)
            else "entre las opciones"
        )
        reply = single(
            f"No encontré {shown} {where}. Elige una de estas opciones (puedes escribir su número, del 1 al "
            f"{len(options)}) o escribe «cancelar»:",
            buttons=tuple(o.button() for o in options),
            awaiting=True,
        )
        return Outcome(reply, state, intent="choose_option")

    async def _pick(self, option: Option, pending: Pending, turn: Turn, state: DialogueState) -> Outcome:
        """Answer the question the picked option asks (with the words of the question that offered it)."""
        entities = option.entities
        base = pending.asked.mentions
        mentions = Mentions(
            plans=entities.get("plan") or base.plans,
            features=entities.get("feature") or base.features,
            channels=entities.get("channel") or base.channels,
        )
        asked = Asked(
            option.intent,
            pending.asked.text,
            mentions,
            option.first("contract_number"),
            pending.options,
        )
        return await self._ask(asked, turn, replace(state, pending=None), reoffer=False)

    def _cancel(self, state: DialogueState) -> Outcome:
        text = (
            "De acuerdo, dejamos esa elección. ¿En qué más te ayudo?"
            if state.pending is not None and state.pending.awaiting
            else "De acuerdo. ¿Hay algo más en lo que pueda ayudarte?"
        )
        return Outcome(single(text), replace(state, pending=None), intent="cancel")

    async def _repeat(self, turn: Turn, state: DialogueState) -> Outcome:
        if state.last is None:
            return Outcome(
                single("Todavía no te he respondido nada. ¿Qué quieres saber sobre planes, canales o pagos?"),
                state,
                intent="repeat",
            )
        return replace(await self._ask(state.last, turn, state, reoffer=False), intent="repeat")

    async def _correct(self, turn: Turn, state: DialogueState) -> Outcome:
        """Answer the last question again for the corrected plan, feature, channel or contract."""
        base = state.last
        named = self.resolver.mentions(turn.entities, turn.text)
        contract = _contract_entity(turn.entities) or normalize_contract_number(turn.text)
        if base is None:
            if contract is not None:
                return await self._contract_number(contract, turn, state)
            topic = topic_for(named)
            if topic is None:
                return Outcome(_which_correction(), state, intent="correct")
            return await self._ask(Asked(topic, turn.text, named), turn, state)
        if base.alternatives:
            if moves.names_the_other(turn.text):
                others = tuple(o for o in base.alternatives if not _is(o, base))
                if len(others) == 1:
                    return await self._pick(others[0], Pending(base, base.alternatives), turn, state)
                if others:
                    reply = single(
                        "¿Cuál de estos?", buttons=tuple(o.button() for o in others), awaiting=True
                    )
                    awaiting = replace(state, pending=Pending(base, others, awaiting=True))
                    return Outcome(reply, awaiting, intent="correct")
            picked = choice.resolve_choice(moves.strip_slip(turn.text), base.alternatives, self.resolver)
            if isinstance(picked, choice.Picked):
                option = base.alternatives[picked.index]
                return await self._pick(option, Pending(base, base.alternatives), turn, state)
        if contract is not None:
            if base.intent in CONTRACT_INTENTS:
                return await self._ask(base.with_values(contract=contract), turn, state)
            return await self._contract_number(contract, turn, state)
        if base.contract is not None and moves.names_the_other(turn.text):
            return await self._ask(replace(base, contract=None), turn, state)
        if not (named.plans or named.features or named.channels):
            return Outcome(_which_correction(), state, intent="correct")
        old = base.mentions
        plans = named.plans or old.plans
        if base.intent == "compare_plans" and len(named.plans) == 1 and len(old.plans) >= 2:
            plans = tuple(p for p in (*old.plans[:-1], named.plans[0]))
        corrected = Mentions(plans, named.features or old.features, named.channels or old.channels)
        return await self._ask(base.with_values(mentions=corrected), turn, state)

    async def _contract_number(self, number: str, turn: Turn, state: DialogueState) -> Outcome:
        """A contract number on its own: the last contract question for it, else that contract's status."""
        last = state.last
        if last is not None and last.intent in CONTRACT_INTENTS:
            return await self._ask(last.with_values(contract=number, text=turn.text), turn, state)
        return await self._ask(Asked("ask_contract_status", turn.text, Mentions(), number), turn, state)

    async def _not_understood(self, turn: Turn, state: DialogueState, out_of_scope: bool) -> Outcome:
        """Answer what the words name; else ask between two close intents; else the fallback, and at the
        second turn in a row not understood, a hand-off."""
        named = self.resolver.mentions(turn.entities, turn.text)
        topic = topic_for(named)
        if topic is not None and not out_of_scope:
            return await self._ask(Asked(topic, turn.text, named), turn, state)
        if not out_of_scope:
            clarify = clarification(turn.ranking, turn.entities)
            if clarify is not None:
                pending = _offered(Asked("nlu_fallback", turn.text, named), clarify)
                return Outcome(
                    clarify, replace(state, pending=pending), intent="nlu_fallback", understood=False
                )
        if out_of_scope:
            # Understood, only not ours to answer: it does not count towards a hand-off.
            return Outcome(single(OUT_OF_SCOPE), state, intent="out_of_scope")
        if state.misunderstood_turn is not None and state.misunderstood_turn == turn.number - 1:
            return Outcome(
                Reply(()),
                replace(state, pending=None, misunderstood_turn=None),
                "not_understood",
                intent="nlu_fallback",
                understood=False,
            )
        reply = fallback_reply(turn.ranking, state.pending)
        pending = _offered(Asked("nlu_fallback", turn.text, named), reply) or state.pending
        return Outcome(
            reply,
            replace(state, pending=pending, misunderstood_turn=turn.number),
            intent="nlu_fallback",
            understood=False,
        )


def _plans_of(asked: Asked, reply: Reply) -> tuple[str, ...]:
    """The plans a question was about: those it named, else those its answer was about."""
    if asked.mentions.plans:
        return tuple(asked.mentions.plans)
    return tuple(reply.context.plans) if reply.context is not None else ()


def _runner_up(ranking: Sequence[tuple[str, float]]) -> str | None:
    """The likeliest reading that is a question (not a choice, a correction or the fallback)."""
    moves_ = {"choose_option", "inform_contract_number", "correct", "repeat", "nlu_fallback", "cancel"}
    return next((name for name, confidence in ranking if name not in moves_ and confidence >= 0.05), None)


def _lower_first_letter(text: str) -> str:
    """'¿De cuál…?' -> '¿de cuál…?' (the question continues a sentence)."""
    index = next((i for i, ch in enumerate(text) if ch.isalpha()), None)
    return text if index is None else text[:index] + text[index].lower() + text[index + 1 :]


def _remembered(asked: Asked, reply: Reply) -> Asked:
    """The question as answered: a follow-up becomes the topic it re-asked, with the values it used."""
    context = reply.context
    if context is None or context.topic is None:
        return asked
    if asked.intent == "follow_up" or context.topic == asked.intent:
        mentions = Mentions(
            asked.mentions.plans or context.plans,
            asked.mentions.features or context.features,
            asked.mentions.channels or context.channels,
        )
        intent = context.topic if asked.intent == "follow_up" else asked.intent
        return replace(asked, intent=intent, mentions=mentions)
    return asked


def _offered(asked: Asked, reply: Reply) -> Pending | None:
    """The options a reply offers, kept until the next answer."""
    options = tuple(
        option for message in reply.messages for option in map(Option.from_button, message.buttons) if option
    )
    return Pending(asked, options, reply.awaiting) if options else None


def _is(option: Option, asked: Asked) -> bool:
    """Whether an option is the one the question was answered for."""
    if asked.contract is not None:
        return option.first("contract_number") == asked.contract
    return bool(asked.mentions.plans) and option.entities.get("plan") == asked.mentions.plans


def _awaits_needs(last: Asked | None, context: Context) -> bool:
    """The last answer asked how many users and InteractionZ a recommendation should cover."""
    return last is not None and last.intent == "recommend_plan" and not context.plans


def _as_needs(text: str) -> str:
    """'15' after 'how many users?' means 15 users."""
    return f"{text.strip()} usuarios" if _only_digits(text) else text


def _contract_entity(entities: Sequence[Mapping[str, Any]]) -> str | None:
    for entity in entities:
        if entity.get("entity") == "contract_number":
            number = normalize_contract_number(str(entity.get("value", "")))
            if number:
                return number
    return None


def _only_digits(text: str) -> bool:
    stripped = "".join(ch for ch in text if ch.isalnum())
    return stripped.isdigit()


def _which_correction() -> Reply:
    return single(
        "Entendido, corrijamos. ¿Qué querías preguntar? Dime el plan, el recurso o el número de contrato "
        "correcto (por ejemplo «el Expert» o «retención de datos»)."
    )
