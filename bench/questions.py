"""What the simulated users say: multi-turn conversations, ours in Spanish and the stock bot's in English.

Each script is one conversation. Our mix covers the assistant's everyday questions (plan features,
comparisons, follow-ups, recommendations, prices, channels, payments, greetings) and nothing that hands
the conversation to a person: while handed off the assistant stays silent, which the load generator
would count as a lost reply.
"""

from __future__ import annotations

OURS: tuple[tuple[str, ...], ...] = (
    ("hola", "¿cuántos usuarios trae el plan Specialist?", "¿y el Expert?", "gracias"),
    ("el starter tiene repositorio de mensajes?", "¿y el Specialist?"),
    ("diferencias entre el expert y el professional", "que incluye el plan expert"),
    ("somos 12 personas, cual plan me recomiendas?", "cuanto cuesta el plan enterprise"),
    ("como puedo pagar", "puedo pagar con factura?", "como agrego una tarjeta nueva"),
    ("que planes tienen?", "hablame del enterprise", "adios"),
    (
        "que son las interactionz?",
        "que pasa si me paso de las interactionz del plan",
        "cuantas interactionz incluye el plan professional",
    ),
    ("que canales hay", "el paquete de canales se acumula entre meses?", "para que sirve el sms"),
    ("el expert tiene mapa de flujos?", "y el almacenamiento?"),
    ("buenas tardes", "que plan me conviene para 20 usuarios y 1500 interactionz"),
    ("que planes tienen account manager", "desde que plan hay mapa de flujos?", "el enterprise tiene sso?"),
    ("necesito ia generativa para 5 usuarios, que plan me sirve", "starter vs specialist", "muchas gracias"),
    ("que puedes hacer?", "precio de los planes", "cual es el sla del professional"),
    ("retencion de datos del professional", "como contrato un plan"),
    ("no puedo registrar mi tarjeta, me da error", "donde veo mis planes y contratos"),
    ("cuanto almacenamiento tiene el expert?", "cuantos contactos puedo crear en el starter"),
)

STOCK: tuple[tuple[str, ...], ...] = (
    ("hello", "I am sad", "yes"),
    ("hi there", "I am sad", "no"),
    ("good morning", "great"),
    ("hey", "are you a bot?", "bye"),
    ("hello there", "I am feeling very good", "goodbye"),
    ("good evening", "my day was horrible", "of course"),
    ("am I talking to a human?", "see you later"),
)


def flat(scripts: tuple[tuple[str, ...], ...]) -> list[str]:
    """Every distinct question of a mix, in order (for the bare NLU parse)."""
    return list(dict.fromkeys(text for script in scripts for text in script))
