import { auth } from "@/auth";

export default async function Home() {
  const session = await auth();
  if (!session) {
    return <p>Connectez-vous (alice@firm-a.fr / alice-demo, ou bob@firm-b.fr / bob-demo).</p>;
  }
  return <p>Les notifications de {session.user.name} arrivent dans la cloche.</p>;
}
